package accesslog

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func unix(s string) int64 {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.Unix()
}

type want struct {
	at                        string // RFC 3339
	user, method, path, query string
	status                    int
}

func TestParseLine(t *testing.T) {
	cases := []struct {
		name   string
		format Format
		line   string
		want   *want // nil: must not parse
	}{
		// Jira (conf/server.xml default).
		{"jira login", Jira,
			`10.61.175.127 654x34x1 sysadmin [04/Feb/2021:10:54:33 +0000] "POST /login.jsp HTTP/1.1" 302 - 1103 "http://jira.example.com/login.jsp" "Mozilla/5.0 (X11; Linux x86_64)" "1o9ucj2"`,
			&want{"2021-02-04T10:54:33Z", "sysadmin", "POST", "/login.jsp", "", 302}},
		{"jira query and zone", Jira,
			`687x406810x28 687x406810x28 userX [17/Apr/2015:11:27:43 -0700] "GET /rest/zephyr/latest/audit?entityType=TESTSTEP&maxRecords=20 HTTP/1.1" 200 47 91 "" "Mozilla/5.0 (Windows NT 6.1; WOW64)" "2c0qst"`,
			&want{"2015-04-17T18:27:43Z", "userX", "GET", "/rest/zephyr/latest/audit", "entityType=TESTSTEP&maxRecords=20", 200}},
		{"jira decoded path with spaces", Jira,
			`10.0.0.7 612x91x3 ann [01/Mar/2026:09:05:00 +0530] "GET /secure/attachment/1/Quarterly report final.pdf HTTP/1.1" 200 88123 40 "-" "Mozilla/5.0" "abc"`,
			&want{"2026-03-01T03:35:00Z", "ann", "GET", "/secure/attachment/1/Quarterly report final.pdf", "", 200}},
		{"jira anonymous", Jira,
			`2001:db8::17 612x92x3 - [01/Mar/2026:09:05:01 +0000] "GET /status HTTP/1.1" 200 20 1 "-" "kube-probe/1.29" "-"`,
			&want{"2026-03-01T09:05:01Z", "", "GET", "/status", "", 200}},
		{"jira IPv6 named", Jira,
			`0:0:0:0:0:0:0:1 540x1x1 Bob.Smith [31/Dec/2025:23:59:59 -1200] "GET /browse/ABC-1 HTTP/1.1" 200 5120 211 "http://j/secure/Dashboard.jspa" "Mozilla/5.0 \"quoted\"" "x1"`,
			&want{"2026-01-01T11:59:59Z", "Bob.Smith", "GET", "/browse/ABC-1", "", 200}},
		{"jira odd zone +1345", Jira,
			`10.0.0.1 1x1x1 ann [29/Feb/2024:00:10:00 +1345] "GET / HTTP/1.1" 200 1 1 "" "" ""`,
			&want{"2024-02-28T10:25:00Z", "ann", "GET", "/", "", 200}},
		{"jira truncated", Jira, `10.0.0.1 1x1x1 ann [29/Feb/2024:00:10:00 +0000] "GET / HTTP/1.1" 200`, nil},
		{"jira bad month", Jira, `10.0.0.1 1x1x1 ann [29/Foo/2024:00:10:00 +0000] "GET / HTTP/1.1" 200 1 1 "" "" ""`, nil},
		{"jira nginx line", Jira, `10.0.0.1 - ann [29/Feb/2024:00:10:00 +0000] "GET / HTTP/1.1" 200 1 "" ""`, nil},
		{"jira junk request", Jira, `10.0.0.1 1x1x1 - [29/Feb/2024:00:10:00 +0000] "\x16\x03\x01" 400 - 0 "" "" ""`, nil},

		// Confluence 7.11+ (conf_access_log).
		{"confluence doc example", Confluence,
			`[18/Dec/2020:12:57:26 +1100] testuser http-nio-8090-exec-6 0:0:0:0:0:0:0:1 GET /index.action HTTP/1.1 200 1020ms 7881 http://localhost:8090/login.action?os_destination=%2Findex.action&permissionViolation=true Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/537.36`,
			&want{"2020-12-18T01:57:26Z", "testuser", "GET", "/index.action", "", 200}},
		{"confluence quickreload", Confluence,
			`[18/Dec/2020:13:02:20 +1100] testuser http-nio-8090-exec-5 0:0:0:0:0:0:0:1 GET /rest/quickreload/latest/2129924?since=1608256850024&_=1608256758069 HTTP/1.1 200 12ms 152 http://localhost:8090/pages/viewpage.action?pageId=2129924 Mozilla/5.0`,
			&want{"2020-12-18T02:02:20Z", "testuser", "GET", "/rest/quickreload/latest/2129924", "since=1608256850024&_=1608256758069", 200}},
		{"confluence anonymous and no bytes", Confluence,
			`[02/Jan/2026:08:00:00 +0000] anonymous http-nio-8090-exec-1 192.168.1.9 POST /dologin.action HTTP/1.1 302 5ms - - curl/8.0`,
			&want{"2026-01-02T08:00:00Z", "", "POST", "/dologin.action", "", 302}},
		{"confluence dash user", Confluence,
			`[02/Jan/2026:08:00:00 +0000] - http-nio-8090-exec-1 192.168.1.9 GET /s/en/_/x.js HTTP/1.1 304 0ms - - -`,
			&want{"2026-01-02T08:00:00Z", "", "GET", "/s/en/_/x.js", "", 304}},
		{"confluence missing ms", Confluence, `[02/Jan/2026:08:00:00 +0000] ann t 1.2.3.4 GET / HTTP/1.1 200 5 100 - -`, nil},
		{"confluence junk", Confluence, `Exception in thread "main" java.lang.OutOfMemoryError`, nil},

		// Confluence Docker image.
		{"docker", ConfluenceDocker,
			`172.17.0.1 jdoe [05/May/2025:14:00:01 +0000] "GET /display/DOC/Home?src=contextnavpagetreemode HTTP/1.1" 200 34567 145 /display/DOC/Home http-nio-8090-exec-10 "Mozilla/5.0 (X11)"`,
			&want{"2025-05-05T14:00:01Z", "jdoe", "GET", "/display/DOC/Home", "src=contextnavpagetreemode", 200}},
		{"docker anonymous", ConfluenceDocker,
			`172.17.0.1 - [05/May/2025:14:00:01 +0000] "GET /status HTTP/1.1" 200 20 1 /status http-nio-8090-exec-2 "curl/8"`,
			&want{"2025-05-05T14:00:01Z", "", "GET", "/status", "", 200}},
		{"docker is not jira", ConfluenceDocker,
			`10.61.175.127 654x34x1 sysadmin [04/Feb/2021:10:54:33 +0000] "POST /login.jsp HTTP/1.1" 302 - 1103 "http://x" "ua" "1o"`, nil},

		// nginx with $upstream_http_x_ausername.
		{"nginx", Nginx,
			`203.0.113.9 - carol [10/Oct/2026:13:55:36 +0200] "GET /browse/OPS-12?focusedCommentId=3 HTTP/2.0" 200 2326 "https://jira.example.com/" "Mozilla/5.0 (Windows NT 10.0)"`,
			&want{"2026-10-10T11:55:36Z", "carol", "GET", "/browse/OPS-12", "focusedCommentId=3", 200}},
		{"nginx no header", Nginx,
			`203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "GET /login.jsp HTTP/1.1" 200 512 "-" "curl/8"`,
			&want{"2026-10-10T13:55:36Z", "", "GET", "/login.jsp", "", 200}},
		{"nginx two upstreams", Nginx,
			`2001:db8::1 - -, dave [10/Oct/2026:13:55:36 +0000] "POST /rest/api/2/issue HTTP/1.1" 201 99 "-" "python-requests/2.31"`,
			&want{"2026-10-10T13:55:36Z", "dave", "POST", "/rest/api/2/issue", "", 201}},
		{"nginx absolute target", Nginx,
			`203.0.113.9 - eve [10/Oct/2026:13:55:36 +0000] "GET http://jira.example.com/browse/X-1 HTTP/1.1" 200 1 "-" "-"`,
			&want{"2026-10-10T13:55:36Z", "eve", "GET", "/browse/X-1", "", 200}},
		{"nginx shipped format with request_time", Nginx,
			`127.0.0.1 - ann [10/Oct/2026:13:55:36 +0000] "GET /secure/Dashboard.jspa HTTP/1.1" 200 512 0.004 "-" "Go-http-client/1.1"`,
			&want{"2026-10-10T13:55:36Z", "ann", "GET", "/secure/Dashboard.jspa", "", 200}},
		{"nginx integer after bytes is Jira's", Nginx,
			`127.0.0.1 - ann [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 512 4 "-" "-" "-"`, nil},
		{"nginx bad request", Nginx, `203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "-" 400 0 "-" "-"`, nil},
		{"nginx binary junk", Nginx, "\x00\x01\x02 - - [", nil},
		{"empty", Nginx, ``, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e Entry
			ok := ParseLine(c.format, []byte(c.line+"\n"), &e)
			if c.want == nil {
				if ok {
					t.Fatalf("parsed junk as %+v", e)
				}
				return
			}
			if !ok {
				t.Fatalf("did not parse")
			}
			w := c.want
			if e.At != unix(w.at) || string(e.User) != w.user || string(e.Method) != w.method ||
				string(e.Path) != w.path || string(e.Query) != w.query || e.Status != w.status {
				t.Fatalf("got at=%s user=%q %s %q ?%q %d, want %+v", time.Unix(e.At, 0).UTC().Format(time.RFC3339),
					e.User, e.Method, e.Path, e.Query, e.Status, *w)
			}
		})
	}
}

var samples = map[Format]string{
	Jira:             `10.61.175.127 654x34x1 sysadmin [04/Feb/2021:10:54:33 +0000] "GET /browse/ABC-1 HTTP/1.1" 200 5120 211 "-" "Mozilla/5.0" "1o9ucj2"`,
	Confluence:       `[18/Dec/2020:12:57:26 +1100] testuser http-nio-8090-exec-6 0:0:0:0:0:0:0:1 GET /index.action HTTP/1.1 200 1020ms 7881 - Mozilla/5.0 (Macintosh)`,
	ConfluenceDocker: `172.17.0.1 jdoe [05/May/2025:14:00:01 +0000] "GET /display/DOC/Home HTTP/1.1" 200 34567 145 /display/DOC/Home http-nio-8090-exec-10 "Mozilla/5.0"`,
	Nginx:            `203.0.113.9 - carol [10/Oct/2026:13:55:36 +0200] "GET /browse/OPS-12 HTTP/1.1" 200 2326 "-" "Mozilla/5.0"`,
}

func TestDetect(t *testing.T) {
	for f, line := range samples {
		head := "garbage first line\n" + line + "\n" + line + "\n"
		if got := Detect([]byte(head)); got != f {
			t.Errorf("Detect(%s sample) = %s", f, got)
		}
		for g := Jira; g < numFormats; g++ {
			var e Entry
			if g != f && ParseLine(g, []byte(line), &e) {
				t.Errorf("%s sample also parses as %s: formats must be told apart", f, g)
			}
		}
	}
	if got := Detect([]byte("no\nlog\nhere\n")); got != Auto {
		t.Errorf("Detect(junk) = %s, want auto (nothing readable)", got)
	}
}

func TestReaderCountsSkippedAndReadsGzipAndStdin(t *testing.T) {
	dir := t.TempDir()
	body := samples[Jira] + "\n\njunk line\r\n" + strings.Repeat("x", maxLine+10) + "\n" + samples[Jira] // no final newline
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(body))
	_ = zw.Close()
	plain := filepath.Join(dir, "access_log.2021-02-04")
	zipped := filepath.Join(dir, "access_log.gz.renamed") // gzip found by its magic, not its name
	if err := os.WriteFile(plain, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(zipped, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{plain, zipped, "-"} {
		f, err := Open(name, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r := NewReader(name, f, Auto)
		n := 0
		for r.Next() {
			n++
			if string(r.Entry().User) != "sysadmin" {
				t.Fatalf("%s: entry %d user %q", name, n, r.Entry().User)
			}
		}
		_ = f.Close()
		if r.Err() != nil || r.Format() != Jira || n != 2 || r.Lines() != 4 || r.Skipped() != 2 {
			t.Errorf("%s: format %s, %d entries, %d lines, %d skipped, err %v; want jira, 2, 4, 2, nil",
				name, r.Format(), n, r.Lines(), r.Skipped(), r.Err())
		}
	}
}

func TestParseLineAllocatesNothing(t *testing.T) {
	for f, line := range samples {
		b := []byte(line)
		var e Entry
		if n := testing.AllocsPerRun(100, func() { ParseLine(f, b, &e) }); n != 0 {
			t.Errorf("%s: %v allocations per line", f, n)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for f := Auto; f < numFormats; f++ {
		if g, err := ParseFormat(f.String()); err != nil || g != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f, g, err)
		}
	}
	if _, err := ParseFormat("apache"); err == nil {
		t.Error("ParseFormat(apache) accepted")
	}
}

func BenchmarkParseLine(b *testing.B) {
	for f, line := range samples {
		b.Run(f.String(), func(b *testing.B) {
			l := []byte(line)
			var e Entry
			b.SetBytes(int64(len(l)))
			for b.Loop() {
				if !ParseLine(f, l, &e) {
					b.Fatal("no parse")
				}
			}
		})
	}
}
