package replay

import (
	"container/heap"

	"github.com/floatseat/floatseat/internal/accesslog"
	"github.com/floatseat/floatseat/internal/username"
)

// The parsing and the classification of lines are the costly part of a
// replay and independent per file, so each file has a goroutine that
// parses it and sends on only its real activity (named, in range, not
// noise: about one line in seven), in batches. The simulation merges those
// streams by time in one goroutine: the policy itself stays sequential.
// This is the only merge of several logs: a merge of raw entries (one
// goroutine parsing every file in turn) would put all the parsing on one
// core and every line, not one in seven, through the heap.

// event is one real request.
type event struct {
	at   int64
	zone int32
	name string // normalised, interned per file
	mask uint64 // the pools (replay's indices) the request is the work of
}

const (
	batchSize  = 2048
	batchAhead = 8 // batches a file may run ahead of the merge: ≤ 16k events, under 1 MB
)

type source struct {
	ch    chan []event
	batch []event
	i     int
}

func (s *source) cur() *event { return &s.batch[s.i] }

// produce parses r and sends its activity on out, then closes it.
func (e *engine) produce(r *accesslog.Reader, out chan<- []event, from, to int64) {
	defer close(out)
	names := map[string]string{}
	cp := e.opt.ContextPath
	batch := make([]event, 0, batchSize)
	for r.Next() {
		en := r.Entry()
		if len(en.User) == 0 || en.At < from || en.At >= to {
			continue
		}
		path := bstr(en.Path)
		if cp != "" && len(path) >= len(cp) && path[:len(cp)] == cp {
			path = path[len(cp):]
		}
		if !e.isActivity(bstr(en.Method), path, bstr(en.Query)) {
			continue
		}
		mask := e.workOf(bstr(en.Method), path)
		name, ok := names[string(en.User)]
		if !ok {
			name = username.Normalize(string(en.User))
			names[string(en.User)] = name
		}
		batch = append(batch, event{at: en.At, zone: en.Zone, name: name, mask: mask})
		if len(batch) == batchSize {
			out <- batch
			batch = make([]event, 0, batchSize)
		}
	}
	if len(batch) > 0 {
		out <- batch
	}
}

// merged is the k-way merge of the files' activity by time.
type merged struct {
	h       srcHeap
	started bool
}

func (e *engine) sources(readers []*accesslog.Reader, from, to int64) *merged {
	m := &merged{}
	for _, r := range readers {
		s := &source{ch: make(chan []event, batchAhead)}
		go e.produce(r, s.ch, from, to)
		m.h = append(m.h, s)
	}
	return m
}

// fill moves s to its next non-empty batch; false at its end.
func (s *source) fill() bool {
	for b := range s.ch {
		if len(b) > 0 {
			s.batch, s.i = b, 0
			return true
		}
	}
	return false
}

// next returns the earliest pending event; false when every file is done
// (every producer has finished: its reader's counts may then be read).
func (m *merged) next() (*event, bool) {
	if !m.started {
		m.started = true
		live := m.h[:0]
		for _, s := range m.h {
			if s.fill() {
				live = append(live, s)
			}
		}
		m.h = live
		heap.Init(&m.h)
	} else if len(m.h) > 0 {
		s := m.h[0]
		s.i++
		if s.i < len(s.batch) || s.fill() {
			heap.Fix(&m.h, 0)
		} else {
			heap.Pop(&m.h)
		}
	}
	if len(m.h) == 0 {
		return nil, false
	}
	return m.h[0].cur(), true
}

type srcHeap []*source

func (h srcHeap) Len() int           { return len(h) }
func (h srcHeap) Less(i, j int) bool { return h[i].cur().at < h[j].cur().at }
func (h srcHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *srcHeap) Push(x any)        { *h = append(*h, x.(*source)) }
func (h *srcHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	*h = old[:len(old)-1]
	return s
}

// workOf is the pools a real request is the work of (internal/poolwork,
// as the proxy decides it), in replay's pool indices; without rules, the
// main pool. Project keys are not known offline, so project_types rules
// do not apply in a replay: only the pools' activity paths do.
func (e *engine) workOf(method, path string) uint64 {
	if e.opt.Work == nil {
		return 1 << e.main
	}
	w := e.opt.Work.Need(method, path)
	var m uint64
	for i, b := range e.workBits {
		if w&b != 0 {
			m |= 1 << i
		}
	}
	return m
}
