package accesslog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
)

// Open opens a log file for reading: "-" is stdin, and gzip is recognised
// by its magic bytes whatever the file is called.
func Open(name string, stdin io.Reader) (io.ReadCloser, error) {
	var f io.ReadCloser
	if name == "-" {
		f = io.NopCloser(stdin)
	} else {
		o, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		f = o
	}
	br := bufio.NewReaderSize(f, 1<<16)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return struct {
			io.Reader
			io.Closer
		}{zr, f}, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{br, f}, nil
}

// maxLine is the longest line kept; longer ones are skipped whole.
const maxLine = 64 << 10

// detectBytes is how much of a file Auto looks at to pick its format.
const detectBytes = 32 << 10

// Reader streams the entries of one log.
type Reader struct {
	name    string
	br      *bufio.Reader
	format  Format
	entry   Entry
	lines   int64
	skipped int64
	err     error
	done    bool
}

// NewReader reads r in format f; Auto detects the format from the first
// lines (see Detect).
func NewReader(name string, r io.Reader, f Format) *Reader {
	rd := &Reader{name: name, br: bufio.NewReaderSize(r, maxLine), format: f}
	if f == Auto {
		head, _ := rd.br.Peek(detectBytes)
		rd.format = Detect(head)
	}
	return rd
}

// Detect picks the format that parses the most of the first lines in head;
// Auto when none parses any.
func Detect(head []byte) Format {
	var n [numFormats]int
	var e Entry
	for lines := 0; len(head) > 0 && lines < 100; lines++ {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		for f := Jira; f < numFormats; f++ {
			if ParseLine(f, line, &e) {
				n[f]++
			}
		}
	}
	best := Auto
	for f := Jira; f < numFormats; f++ {
		if n[f] > n[best] {
			best = f
		}
	}
	return best
}

// Name is the file name given to NewReader.
func (r *Reader) Name() string { return r.name }

// Format is the format in use (the detected one for Auto); Auto when
// detection found nothing it could read.
func (r *Reader) Format() Format { return r.format }

// Next advances to the next entry that parses, counting the lines that do
// not; false at the end of the input or on a read error (see Err).
func (r *Reader) Next() bool {
	for !r.done {
		line, err := r.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Too long to be a request: skip to the end of the line.
			r.lines++
			r.skipped++
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.br.ReadSlice('\n')
			}
			if err != nil {
				r.finish(err)
			}
			continue
		}
		if err != nil {
			r.finish(err)
			if len(line) == 0 {
				return false
			}
		}
		if len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' {
			continue // blank lines are not lines of the log
		}
		r.lines++
		if r.format != Auto && ParseLine(r.format, line, &r.entry) {
			return true
		}
		r.skipped++
	}
	return false
}

func (r *Reader) finish(err error) {
	r.done = true
	if !errors.Is(err, io.EOF) {
		r.err = fmt.Errorf("%s: %w", r.name, err)
	}
}

// Entry is the current entry; valid until the next call to Next.
func (r *Reader) Entry() *Entry { return &r.entry }

// Lines is the number of non-blank lines read so far.
func (r *Reader) Lines() int64 { return r.lines }

// Skipped is the number of lines that did not parse.
func (r *Reader) Skipped() int64 { return r.skipped }

// Err is the read error that ended the stream, if any (not io.EOF).
func (r *Reader) Err() error { return r.err }
