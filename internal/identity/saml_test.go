package identity

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const samlPlain = `<?xml version="1.0"?><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">
<saml:Issuer>https://idp</saml:Issuer><samlp:Status/>
<saml:Assertion><saml:Subject><saml:NameID Format="x"> hank@example.org </saml:NameID></saml:Subject>
<saml:AttributeStatement><saml:Attribute Name="uid"><saml:AttributeValue>hank</saml:AttributeValue></saml:Attribute>
<saml:Attribute Name="groups"><saml:AttributeValue>a</saml:AttributeValue><saml:AttributeValue>b</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>
</saml:Assertion><saml:Assertion><saml:Subject><saml:NameID>second</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>`

const samlEncrypted = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"><xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion></samlp:Response>`

func deflated(s string) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	_, _ = io.WriteString(w, s)
	_ = w.Close()
	return b.Bytes()
}

func TestReadSAMLResponse(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	wrapped := b64([]byte(samlPlain))
	wrapped = wrapped[:40] + "\r\n" + wrapped[40:]
	tests := []struct {
		name, value string
		nameID      string
		uid         string
		encrypted   bool
		err         bool
	}{
		{"post binding", b64([]byte(samlPlain)), "hank@example.org", "hank", false, false},
		{"line breaks", wrapped, "hank@example.org", "hank", false, false},
		{"redirect binding (deflate)", b64(deflated(samlPlain)), "hank@example.org", "hank", false, false},
		{"no padding", strings.TrimRight(b64([]byte(samlPlain+" ")), "="), "hank@example.org", "hank", false, false},
		{"encrypted", b64([]byte(samlEncrypted)), "", "", true, false},
		{"not base64", "%%%", "", "", false, true},
		{"not xml", b64([]byte("hello")), "", "", false, true},
		{"not a Response", b64([]byte(`<AuthnRequest><NameID>x</NameID></AuthnRequest>`)), "", "", false, true},
		{"doctype", b64([]byte(`<!DOCTYPE r [<!ENTITY e "x">]><Response><Assertion><Subject><NameID>&e;</NameID></Subject></Assertion></Response>`)), "", "", false, true},
		{"truncated", b64([]byte(samlPlain[:200])), "", "", false, true},
		{"nameid outside subject", b64([]byte(`<Response><Assertion><NameID>x</NameID></Assertion></Response>`)), "", "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ReadSAMLResponse(tc.value)
			if (err != nil) != tc.err {
				t.Fatalf("err %v, want error %v", err, tc.err)
			}
			if a.NameID != tc.nameID || a.Attribute("uid") != tc.uid || a.Encrypted != tc.encrypted {
				t.Errorf("got %+v, want NameID %q uid %q encrypted %v", a, tc.nameID, tc.uid, tc.encrypted)
			}
		})
	}
	a, _ := ReadSAMLResponse(b64([]byte(samlPlain)))
	if got := a.Attributes["groups"]; len(got) != 2 || got[1] != "b" {
		t.Errorf("multi-valued attribute: %v", got)
	}
}

type emailDir map[string]string

func (d emailDir) UserByEmail(_ context.Context, e string) (string, error) {
	if u, ok := d[e]; ok {
		return u, nil
	}
	return "", errors.New("not found")
}

func TestIdentifySAMLUsername(t *testing.T) {
	form := func(xml string) *http.Request {
		body := "SAMLResponse=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(xml))) + "&RelayState=%2F"
		r := httptest.NewRequest("POST", "/plugins/servlet/samlconsumer", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	mapper := NewEmailMapper(emailDir{"hank@example.org": "hjones"}, time.Second, slog.New(slog.DiscardHandler))
	tests := []struct {
		name string
		saml SAMLOptions
		xml  string
		want string
	}{
		{"nameid", SAMLOptions{}, samlPlain, "hank@example.org"},
		{"attribute", SAMLOptions{UsernameAttribute: "uid"}, samlPlain, "hank"},
		{"missing attribute", SAMLOptions{UsernameAttribute: "employeeNumber"}, samlPlain, ""},
		{"e-mail mapped", SAMLOptions{Emails: mapper}, samlPlain, "hjones"},
		{"e-mail unknown", SAMLOptions{UsernameAttribute: "uid", Emails: mapper}, samlPlain, ""},
		{"encrypted", SAMLOptions{}, samlEncrypted, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := &Identifier{Product: "jira", SAML: tc.saml}
			r := form(tc.xml)
			id := i.Identify(t.Context(), r)
			if id.User != tc.want {
				t.Errorf("user %q, want %q", id.User, tc.want)
			}
			if tc.want != "" && id.Source != SourceLoginBody {
				t.Errorf("source %v, want a claim from the login body", id.Source)
			}
			if b, _ := io.ReadAll(r.Body); !strings.HasPrefix(string(b), "SAMLResponse=") {
				t.Error("the body was not restored for the app")
			}
		})
	}
}

func FuzzSAMLResponse(f *testing.F) {
	b64 := base64.StdEncoding.EncodeToString
	f.Add(b64([]byte(samlPlain)))
	f.Add(b64([]byte(samlEncrypted)))
	f.Add(b64(deflated(samlPlain)))
	f.Add(b64([]byte(`<Response><Assertion><Subject><NameID>`)))
	f.Add("PFJlc3BvbnNlLz4=")
	f.Fuzz(func(t *testing.T, v string) {
		a, err := ReadSAMLResponse(v)
		if err != nil && (a.NameID != "" || a.Encrypted || a.Attributes != nil) {
			t.Fatalf("an error with a result: %+v", a)
		}
		if a.Encrypted && a.NameID != "" {
			t.Fatalf("encrypted yet named %q", a.NameID)
		}
		if len(a.NameID) > 4096 {
			t.Fatalf("NameID of %d bytes", len(a.NameID))
		}
	})
}
