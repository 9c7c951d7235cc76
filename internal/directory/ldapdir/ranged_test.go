package ldapdir

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/directory"
)

// adFake is a minimal in-process LDAP server shaped like Active Directory
// where it matters here: a group's member attribute is returned at most
// maxRange values at a time, as "member;range=lo-hi" (the last range
// "lo-*"), and the rest must be asked for by range. slapd cannot serve
// ranged attributes, so this stands in for AD (issue #13). It answers
// bind, search (ignoring the filter: every search gets the one group) and
// unbind; nothing else is needed by a member listing. It can mishandle
// the request for a range, to show how a listing recovers.
type adFake struct {
	groupDN  string
	members  []string // member DNs
	maxRange int
	// drop and stall name ranges by their first index: drop[lo] times
	// the request for that range closes the connection instead of being
	// answered (-1: every time), stall[lo] times it is left unanswered.
	drop, stall map[int]int

	mu     sync.Mutex
	conns  int      // connections accepted
	ranged []string // the range attributes asked for, in order
	asked  []string // the same, each as "cN:attr" with its connection's number
}

func (f *adFake) serve(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns++
			n := f.conns
			f.mu.Unlock()
			go f.conn(c, n)
		}
	}()
	return "ldap://" + ln.Addr().String()
}

func (f *adFake) conn(c net.Conn, n int) {
	defer c.Close()
	for {
		p, err := ber.ReadPacket(c)
		if err != nil || len(p.Children) < 2 {
			return
		}
		id := p.Children[0].Value.(int64)
		op := p.Children[1]
		switch op.Tag {
		case ldapBindRequest:
			_, _ = c.Write(result(id, ldapBindResponse).Bytes())
		case ldapSearchRequest:
			var attrs []string
			for _, a := range op.Children[7].Children {
				attrs = append(attrs, a.Data.String())
			}
			switch f.fault(n, attrs) {
			case "drop":
				return
			case "stall":
				continue
			}
			for _, e := range f.search(id, attrs) {
				_, _ = c.Write(e.Bytes())
			}
			_, _ = c.Write(result(id, ldapSearchResultDone).Bytes())
		case ldapUnbindRequest:
			return
		}
	}
}

const (
	ldapBindRequest      = 0
	ldapBindResponse     = 1
	ldapUnbindRequest    = 2
	ldapSearchRequest    = 3
	ldapSearchResultDone = 5
)

// fault records the range asked for on connection n and says whether to
// drop the connection or stall the request instead of answering.
func (f *adFake) fault(n int, attrs []string) string {
	for _, a := range attrs {
		r, ok := strings.CutPrefix(strings.ToLower(a), "member;range=")
		if !ok {
			continue
		}
		lo, _ := strconv.Atoi(strings.TrimSuffix(r, "-*"))
		f.mu.Lock()
		defer f.mu.Unlock()
		f.asked = append(f.asked, fmt.Sprintf("c%d:%s", n, a))
		for what, m := range map[string]map[int]int{"drop": f.drop, "stall": f.stall} {
			if left := m[lo]; left != 0 {
				if left > 0 {
					m[lo] = left - 1
				}
				return what
			}
		}
	}
	return ""
}

// search answers with the group: the first range of its members, or the
// range asked for ("member;range=N-*").
func (f *adFake) search(id int64, attrs []string) []*ber.Packet {
	lo := 0
	for _, a := range attrs {
		if r, ok := strings.CutPrefix(strings.ToLower(a), "member;range="); ok {
			lo, _ = strconv.Atoi(strings.TrimSuffix(r, "-*"))
			f.mu.Lock()
			f.ranged = append(f.ranged, a)
			f.mu.Unlock()
		}
	}
	hi := min(lo+f.maxRange, len(f.members))
	name := fmt.Sprintf("member;range=%d-%d", lo, hi-1)
	if hi == len(f.members) {
		name = fmt.Sprintf("member;range=%d-*", lo)
	}
	if len(f.members) <= f.maxRange && lo == 0 {
		name = "member"
	}
	return []*ber.Packet{f.entry(id, map[string][]string{"cn": {"jira-software-users"}, name: f.members[lo:hi]})}
}

// entry is a SearchResultEntry of the group, answering request id.
func (f *adFake) entry(id int64, attrs map[string][]string) *ber.Packet {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Response")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
	e := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 4, nil, "Search Result Entry")
	e.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, f.groupDN, "objectName"))
	as := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "attributes")
	for k, vs := range attrs {
		a := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "attribute")
		a.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, k, "type"))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "vals")
		for _, v := range vs {
			set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, "value"))
		}
		a.AppendChild(set)
		as.AppendChild(a)
	}
	e.AppendChild(as)
	p.AppendChild(e)
	return p
}

func result(id int64, tag ber.Tag) *ber.Packet {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Response")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
	r := ber.Encode(ber.ClassApplication, ber.TypeConstructed, tag, nil, "Response")
	r.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(0), "resultCode"))
	r.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "matchedDN"))
	r.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "diagnosticMessage"))
	p.AppendChild(r)
	return p
}

// TestActiveDirectoryRangeRetrieval: a group of 3,200 members served
// 1,500 values at a time is read whole, with the two further ranges
// asked for in order, and membership answered from all of it.
func TestActiveDirectoryRangeRetrieval(t *testing.T) {
	f := &adFake{groupDN: "CN=jira-software-users,OU=Groups,DC=corp,DC=example", maxRange: 1500}
	for i := 0; i < 3200; i++ {
		f.members = append(f.members, fmt.Sprintf("uid=u%04d,OU=People,DC=corp,DC=example", i))
	}
	d, err := New(Config{URL: f.serve(t), BindDN: "CN=floatseat,DC=corp,DC=example", BindPassword: "x",
		UserBaseDN: "OU=People,DC=corp,DC=example", UserFilter: "(&(objectClass=user)(uid=%s))",
		GroupBaseDN: "OU=Groups,DC=corp,DC=example", GroupFilter: "(objectClass=group)", GroupNameAttribute: "cn",
		MemberAttribute: "member", MemberValue: "dn"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ms, err := d.Members(t.Context(), "jira-software-users", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3200 || ms[0] != "u0000" || ms[1500] != "u1500" || ms[3199] != "u3199" {
		t.Fatalf("got %d members (%v … %v), want u0000..u3199", len(ms), ms[:min(2, len(ms))], ms[max(0, len(ms)-2):])
	}
	if ok, err := d.IsMember(t.Context(), "u3100", "jira-software-users", false); err != nil || !ok {
		t.Errorf("u3100, in the last range: member %v, %v; want a member", ok, err)
	}
	f.mu.Lock()
	f.ranged = f.ranged[:2] // the listing's; IsMember read the ranges again
	got := strings.Join(f.ranged, " ")
	f.mu.Unlock()
	if got != "member;range=1500-* member;range=3000-*" {
		t.Errorf("ranges asked for: %q, want 1500-* then 3000-*", got)
	}
}

// newADFake serves a group of n members, 1,500 values a range, and
// returns a Dir on it with timeout per request.
func newADFake(t *testing.T, n int, timeout time.Duration) (*adFake, *Dir) {
	f := &adFake{groupDN: "CN=jira-software-users,OU=Groups,DC=corp,DC=example", maxRange: 1500, drop: map[int]int{}, stall: map[int]int{}}
	for i := 0; i < n; i++ {
		f.members = append(f.members, fmt.Sprintf("uid=u%04d,OU=People,DC=corp,DC=example", i))
	}
	d, err := New(Config{URL: f.serve(t), BindDN: "CN=floatseat,DC=corp,DC=example", BindPassword: "x",
		UserBaseDN: "OU=People,DC=corp,DC=example", UserFilter: "(&(objectClass=user)(uid=%s))",
		GroupBaseDN: "OU=Groups,DC=corp,DC=example", GroupFilter: "(objectClass=group)", GroupNameAttribute: "cn",
		MemberAttribute: "member", MemberValue: "dn", Timeout: timeout}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return f, d
}

func (f *adFake) log() (asked string, conns int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.asked, " "), f.conns
}

// TestRangeRetrievalResumesOnANewConnection: a connection lost while a
// range is read is replaced and the listing goes on at that range, with
// the ranges before it kept (each range is a search of its own); every
// request is counted as a members_page, the lost one as unavailable.
func TestRangeRetrievalResumesOnANewConnection(t *testing.T) {
	f, d := newADFake(t, 3200, 5*time.Second)
	f.drop[3000] = 1
	reg := prometheus.NewRegistry()
	ms, err := directory.Instrument("ldap", d, directory.NewMetrics(reg), directory.Options{}).Members(t.Context(), "jira-software-users", false)
	if err != nil || len(ms) != 3200 || ms[3199] != "u3199" {
		t.Fatalf("members: %d, %v; want u0000..u3199", len(ms), err)
	}
	asked, conns := f.log()
	if want := "c1:member;range=1500-* c1:member;range=3000-* c2:member;range=3000-*"; asked != want || conns != 2 {
		t.Errorf("ranges asked: %q on %d connections, want %q on 2 (resume at the lost range)", asked, conns, want)
	}
	for res, want := range map[string]float64{"ok": 3, "unavailable": 1} {
		if got := requests(t, reg, "members_page", res); got != want {
			t.Errorf("members_page %s: %v, want %v (the group, two ranges, one lost)", res, got, want)
		}
	}
}

// TestRangeTimeoutRetriedOnTheSameConnection: a range the server does not
// answer in time is asked for again on the same, live connection; one
// that times out twice writes the connection off (it may be half open, as
// a firewall that forgot it leaves it) and is asked on a new one.
func TestRangeTimeoutRetriedOnTheSameConnection(t *testing.T) {
	for _, tc := range []struct {
		stalls int
		want   string
		conns  int
	}{
		{1, "c1:member;range=1500-* c1:member;range=1500-* c1:member;range=3000-*", 1},
		{2, "c1:member;range=1500-* c1:member;range=1500-* c2:member;range=1500-* c2:member;range=3000-*", 2},
	} {
		f, d := newADFake(t, 3200, 500*time.Millisecond)
		f.stall[1500] = tc.stalls
		ms, err := d.Members(t.Context(), "jira-software-users", false)
		if err != nil || len(ms) != 3200 {
			t.Fatalf("%d timeouts: members: %d, %v; want 3200", tc.stalls, len(ms), err)
		}
		if asked, conns := f.log(); asked != tc.want || conns != tc.conns {
			t.Errorf("%d timeouts: ranges asked: %q on %d connections, want %q on %d", tc.stalls, asked, conns, tc.want, tc.conns)
		}
	}
}

// TestListingGivesUpAfterBoundedRestarts: a range that loses every
// connection it is asked on ends the listing after listingRestarts new
// connections, unavailable, so the membership view keeps its last good
// view and the next refresh tries again.
func TestListingGivesUpAfterBoundedRestarts(t *testing.T) {
	f, d := newADFake(t, 3200, 5*time.Second)
	f.drop[1500] = -1
	_, err := d.Members(t.Context(), "jira-software-users", false)
	if !errors.Is(err, directory.ErrUnavailable) || !strings.Contains(err.Error(), "giving up after 3 new starts") {
		t.Fatalf("got %v, want ErrUnavailable giving up after 3 new starts", err)
	}
	if _, conns := f.log(); conns != 1+listingRestarts {
		t.Errorf("%d connections, want %d: the first and %d new ones", conns, 1+listingRestarts, listingRestarts)
	}
}

// requests reads floatseat_directory_requests_total{op, result} from reg.
func requests(t *testing.T, reg *prometheus.Registry, op, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "floatseat_directory_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["op"] == op && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
