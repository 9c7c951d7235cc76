// Package accesslog reads the access logs that Jira, Confluence and nginx
// already write, for `floatseat replay`: one streaming parser per format, a
// per-file format detector, plain and gzip files, and a k-way merge by time
// over many files given in any order.
//
// The parsers are hand-written (no regexp) and allocate nothing per line:
// an Entry's byte slices point into the line being parsed and are valid
// only until the next line is read. A line that does not fit its format is
// reported as not parsed; callers count it and go on, never stop.
//
// Formats (REFERENCE §7):
//
//	jira               %a %{jira.request.id}r %{jira.request.username}r %t "%m %U%q %H" %s %b %D "%{Referer}i" "%{User-Agent}i" "%{jira.request.assession.id}r"
//	confluence         %t %{X-AUSERNAME}o %I %h %r %s %Dms %b %{Referer}i %{User-Agent}i
//	confluence-docker  %h %{X-AUSERNAME}o %t "%r" %s %b %D %U %I "%{User-Agent}i"
//	nginx              $remote_addr - $upstream_http_x_ausername [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
package accesslog

import (
	"bytes"
	"fmt"
	"strings"
)

// Format is an access log layout.
type Format uint8

// The formats replay reads. Auto detects one per file.
const (
	Auto Format = iota
	Jira
	Confluence
	ConfluenceDocker
	Nginx
	numFormats
)

var formatNames = [numFormats]string{"auto", "jira", "confluence", "confluence-docker", "nginx"}

// String is the --log-format spelling.
func (f Format) String() string {
	if f < numFormats {
		return formatNames[f]
	}
	return fmt.Sprintf("format(%d)", uint8(f))
}

// ParseFormat reads a --log-format value.
func ParseFormat(s string) (Format, error) {
	for i, n := range formatNames {
		if strings.EqualFold(s, n) {
			return Format(i), nil
		}
	}
	return Auto, fmt.Errorf("unknown log format %q (want one of %s)", s, strings.Join(formatNames[:], ", "))
}

// Entry is one request. Its slices point into the parsed line.
type Entry struct {
	// At is the request time in Unix seconds (the logs have second
	// resolution), zone offsets applied.
	At int64
	// Zone is the offset east of UTC, in seconds, that the line was
	// written in (for grouping by the site's own days).
	Zone int32
	// User is who the app says the request ran as; empty for anonymous
	// ("-", "anonymous", or nothing).
	User   []byte
	Method []byte
	// Path is the request path without the query; Query is what follows
	// the '?', without it.
	Path   []byte
	Query  []byte
	Status int
}

// ParseLine parses one line (without its newline) in format f into e and
// reports whether it fits. f must not be Auto.
func ParseLine(f Format, line []byte, e *Entry) bool {
	*e = Entry{}
	line = trimEOL(line)
	switch f {
	case Jira:
		return parseJira(line, e)
	case Confluence:
		return parseConfluence(line, e)
	case ConfluenceDocker:
		return parseConfluenceDocker(line, e)
	case Nginx:
		return parseNginx(line, e)
	}
	return false
}

// parseJira: ip reqid user [time] "METHOD path?q PROTO" status bytes millis "ref" "ua" "sess"
func parseJira(l []byte, e *Entry) bool {
	var ok bool
	if _, l, ok = token(l); !ok { // %a
		return false
	}
	if _, l, ok = token(l); !ok { // request id
		return false
	}
	var user []byte
	if user, l, ok = token(l); !ok {
		return false
	}
	if l, ok = clfRequest(l, e); !ok {
		return false
	}
	if _, l, ok = number(l); !ok { // %D
		return false
	}
	if len(l) == 0 || l[0] != '"' {
		return false
	}
	e.User = named(user)
	return true
}

// parseNginx: ip - user [time] "request" status bytes [request_time] "ref" "ua"
// The user is $upstream_http_x_ausername: "-" when the app sent none, and a
// comma-separated list when nginx tried more than one upstream (the last
// one answered). $request_time (seconds with a decimal point, as the shipped
// deploy/nginx/floatseat.conf logs it) may follow the bytes; a Jira line has
// an integer there, which is how the two are told apart.
func parseNginx(l []byte, e *Entry) bool {
	var ok bool
	if _, l, ok = token(l); !ok {
		return false
	}
	if len(l) < 2 || l[0] != '-' || l[1] != ' ' {
		return false
	}
	l = l[2:]
	i := bytes.Index(l, []byte(" ["))
	if i < 0 {
		return false
	}
	user := l[:i]
	l = l[i+1:]
	if j := bytes.LastIndexByte(user, ','); j >= 0 {
		user = bytes.TrimSpace(user[j+1:])
	}
	if len(user) == 0 || bytes.IndexByte(user, ' ') >= 0 {
		return false
	}
	if l, ok = clfRequest(l, e); !ok {
		return false
	}
	if len(l) > 0 && l[0] != '"' {
		var rt []byte
		if rt, l, ok = token(l); !ok || !seconds(rt) {
			return false
		}
	}
	if len(l) == 0 || l[0] != '"' {
		return false
	}
	e.User = named(user)
	return true
}

// seconds matches nginx's $request_time: digits, a point, digits.
func seconds(b []byte) bool {
	i := bytes.IndexByte(b, '.')
	return i > 0 && digits(b[:i]) && digits(b[i+1:])
}

// parseConfluence: [time] user thread ip METHOD uri PROTO status NNNms bytes referer ua…
// The request line is not quoted; the URI runs to the " HTTP/" that ends it.
func parseConfluence(l []byte, e *Entry) bool {
	var ok bool
	if e.At, e.Zone, l, ok = bracketTime(l); !ok {
		return false
	}
	var user []byte
	if user, l, ok = token(l); !ok {
		return false
	}
	if _, l, ok = token(l); !ok { // %I thread
		return false
	}
	if _, l, ok = token(l); !ok { // %h
		return false
	}
	var method []byte
	if method, l, ok = token(l); !ok || !isMethod(method) {
		return false
	}
	i := bytes.Index(l, []byte(" HTTP/"))
	if i <= 0 {
		return false
	}
	target := l[:i]
	l = l[i+1:]
	if _, l, ok = token(l); !ok { // protocol
		return false
	}
	if e.Status, l, ok = status(l); !ok {
		return false
	}
	var ms []byte
	if ms, l, ok = token(l); !ok || len(ms) < 3 || !bytes.HasSuffix(ms, []byte("ms")) || !digits(ms[:len(ms)-2]) {
		return false
	}
	if _, _, ok = bytesSent(l); !ok {
		return false
	}
	e.Method = method
	splitTarget(target, e)
	e.User = named(user)
	return true
}

// parseConfluenceDocker: ip user [time] "request" status bytes millis path thread "ua"
func parseConfluenceDocker(l []byte, e *Entry) bool {
	var ok bool
	if _, l, ok = token(l); !ok {
		return false
	}
	var user []byte
	if user, l, ok = token(l); !ok {
		return false
	}
	if l, ok = clfRequest(l, e); !ok {
		return false
	}
	if _, l, ok = number(l); !ok { // %D
		return false
	}
	if len(l) == 0 || l[0] == '"' {
		return false // %U comes next, then the thread
	}
	e.User = named(user)
	return true
}

// clfRequest parses the run the common-log-style formats share:
// [time] "METHOD target PROTO" status bytes. It fills e.At, e.Zone, e.Method,
// the target and e.Status, and returns what follows the bytes.
func clfRequest(l []byte, e *Entry) ([]byte, bool) {
	var ok bool
	if e.At, e.Zone, l, ok = bracketTime(l); !ok {
		return nil, false
	}
	if l, ok = quotedRequest(l, e); !ok {
		return nil, false
	}
	if e.Status, l, ok = status(l); !ok {
		return nil, false
	}
	if _, l, ok = bytesSent(l); !ok {
		return nil, false
	}
	return l, true
}

// token returns the bytes up to the next space and the rest after it. The
// token must not be empty; the rest may be (last field).
func token(l []byte) (tok, rest []byte, ok bool) {
	i := bytes.IndexByte(l, ' ')
	if i < 0 {
		return l, nil, len(l) > 0
	}
	if i == 0 {
		return nil, l, false
	}
	return l[:i], l[i+1:], true
}

// quotedRequest reads `"METHOD target PROTO" ` into e. The target may
// contain spaces (Jira logs the decoded path), so the method ends at the
// first space and the protocol starts at the last one. The closing quote
// is the one followed by a space and a three-digit status.
func quotedRequest(l []byte, e *Entry) ([]byte, bool) {
	if len(l) == 0 || l[0] != '"' {
		return l, false
	}
	l = l[1:]
	end := -1
	for i := 0; i+5 <= len(l); i++ {
		if l[i] == '"' && l[i+1] == ' ' && isDigit(l[i+2]) && isDigit(l[i+3]) && isDigit(l[i+4]) &&
			(i+5 == len(l) || l[i+5] == ' ') {
			end = i
			break
		}
	}
	if end < 0 {
		return l, false
	}
	req := l[:end]
	rest := l[end+2:]
	sp := bytes.IndexByte(req, ' ')
	last := bytes.LastIndexByte(req, ' ')
	if sp <= 0 || last <= sp+1 || !bytes.HasPrefix(req[last+1:], []byte("HTTP/")) {
		return l, false
	}
	method := req[:sp]
	if !isMethod(method) {
		return l, false
	}
	e.Method = method
	splitTarget(req[sp+1:last], e)
	return rest, true
}

// splitTarget sets Path and Query from a request target; an absolute-form
// target (http://host/path) keeps only its path.
func splitTarget(t []byte, e *Entry) {
	if len(t) > 0 && t[0] != '/' {
		if i := bytes.Index(t, []byte("://")); i > 0 {
			t = t[i+3:]
			if j := bytes.IndexByte(t, '/'); j >= 0 {
				t = t[j:]
			} else {
				t = []byte("/")
			}
		}
	}
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		e.Path, e.Query = t[:i], t[i+1:]
		return
	}
	e.Path = t
}

func status(l []byte) (int, []byte, bool) {
	if len(l) < 3 || !isDigit(l[0]) || !isDigit(l[1]) || !isDigit(l[2]) || (len(l) > 3 && l[3] != ' ') {
		return 0, l, false
	}
	s := int(l[0]-'0')*100 + int(l[1]-'0')*10 + int(l[2]-'0')
	if len(l) == 3 {
		return s, nil, true
	}
	return s, l[4:], true
}

// bytesSent is %b: digits or "-".
func bytesSent(l []byte) ([]byte, []byte, bool) {
	tok, rest, ok := token(l)
	if !ok || !(digits(tok) || len(tok) == 1 && tok[0] == '-') {
		return nil, l, false
	}
	return tok, rest, true
}

func number(l []byte) ([]byte, []byte, bool) {
	tok, rest, ok := token(l)
	if !ok || !digits(tok) {
		return nil, l, false
	}
	return tok, rest, true
}

func digits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isMethod accepts an HTTP method token: upper-case letters, up to 16.
func isMethod(b []byte) bool {
	if len(b) == 0 || len(b) > 16 {
		return false
	}
	for _, c := range b {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// named returns the user, or nil for the spellings of nobody.
func named(u []byte) []byte {
	switch {
	case len(u) == 0, len(u) == 1 && u[0] == '-', string(u) == "anonymous", string(u) == `""`:
		return nil
	}
	return u
}

func trimEOL(l []byte) []byte {
	for len(l) > 0 && (l[len(l)-1] == '\n' || l[len(l)-1] == '\r') {
		l = l[:len(l)-1]
	}
	return l
}
