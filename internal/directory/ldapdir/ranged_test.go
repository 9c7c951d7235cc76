package ldapdir

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// adFake is a minimal in-process LDAP server shaped like Active Directory
// where it matters here: a group's member attribute is returned at most
// maxRange values at a time, as "member;range=lo-hi" (the last range
// "lo-*"), and the rest must be asked for by range. slapd cannot serve
// ranged attributes, so this stands in for AD (issue #13). It answers
// bind, search (ignoring the filter: every search gets the one group) and
// unbind; nothing else is needed by a member listing.
type adFake struct {
	groupDN  string
	members  []string // member DNs
	maxRange int

	mu     sync.Mutex
	ranged []string // the range attributes asked for, in order
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
			go f.conn(c)
		}
	}()
	return "ldap://" + ln.Addr().String()
}

func (f *adFake) conn(c net.Conn) {
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
