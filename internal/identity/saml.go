package identity

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// The SAMLResponse reader. floatseat reads who a SAML assertion names so
// that a revoked user's seat is back before the app's assertion consumer
// runs its licence check; it does not check the signature: that is the
// app's job, and only the app's answer (a new session as that user, then
// requests as the user) keeps a grant made on it (DESIGN §2.9).
//
// encoding/xml is enough here: floatseat needs two element texts and no
// canonicalisation or signature processing (which is what SAML libraries
// such as crewjam/saml add, with a dependency tree to match), and
// encoding/xml neither fetches external entities nor expands custom ones.

// SAMLAssertion is what floatseat reads of a SAML 2.0 Response.
type SAMLAssertion struct {
	// NameID is the assertion's Subject NameID ("" when absent).
	NameID string
	// Attributes are the AttributeStatement's values by attribute Name.
	Attributes map[string][]string
	// Encrypted: the assertion is an EncryptedAssertion; nothing in it can
	// be read by anyone but the app.
	Encrypted bool
}

// Attribute returns the first value of the named attribute.
func (a SAMLAssertion) Attribute(name string) string {
	if v := a.Attributes[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// ErrBadSAML: the value is not a readable SAMLResponse.
var ErrBadSAML = errors.New("not a readable SAMLResponse")

// maxSAMLXML bounds the decoded (and inflated) document.
const maxSAMLXML = 1 << 20

// maxSAMLTokens bounds the XML tokens read, against pathological nesting.
const maxSAMLTokens = 1 << 16

// ReadSAMLResponse decodes a SAMLResponse value: base64 (line breaks and
// padding tolerated), inflated when it is raw DEFLATE (the HTTP-Redirect
// binding), then the XML of a Response. The first Assertion counts; an
// EncryptedAssertion before it sets Encrypted.
func ReadSAMLResponse(v string) (SAMLAssertion, error) {
	v = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, v)
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(v, "=")); err != nil {
			return SAMLAssertion{}, ErrBadSAML
		}
	}
	if t := bytes.TrimLeft(raw, " \t\r\n\xef\xbb\xbf"); len(t) == 0 || t[0] != '<' {
		inflated, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(raw)), maxSAMLXML+1))
		if err != nil || len(inflated) > maxSAMLXML {
			return SAMLAssertion{}, ErrBadSAML
		}
		raw = inflated
	}
	if len(raw) > maxSAMLXML {
		return SAMLAssertion{}, ErrBadSAML
	}
	return parseSAML(raw)
}

func parseSAML(raw []byte) (SAMLAssertion, error) {
	dec := xml.NewDecoder(bytes.NewReader(raw))
	var (
		out       SAMLAssertion
		stack     []string
		inAssert  bool // inside the first plain Assertion
		done      bool // that Assertion has ended
		sawRoot   bool
		attrName  string
		text      strings.Builder
		collect   bool
		assertLvl int
	)
	for n := 0; n < maxSAMLTokens; n++ {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if !sawRoot {
				return SAMLAssertion{}, ErrBadSAML
			}
			return out, nil
		}
		if err != nil {
			return SAMLAssertion{}, ErrBadSAML
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !sawRoot {
				if t.Name.Local != "Response" {
					return SAMLAssertion{}, ErrBadSAML
				}
				sawRoot = true
			}
			stack = append(stack, t.Name.Local)
			switch {
			case done:
			case t.Name.Local == "EncryptedAssertion" && !inAssert:
				out.Encrypted = true
			case t.Name.Local == "Assertion" && !inAssert && !out.Encrypted:
				inAssert, assertLvl = true, len(stack)
			case inAssert && t.Name.Local == "NameID" && parent(stack) == "Subject" && out.NameID == "":
				collect = true
				text.Reset()
			case inAssert && t.Name.Local == "Attribute" && parent(stack) == "AttributeStatement":
				attrName = ""
				for _, a := range t.Attr {
					if a.Name.Local == "Name" {
						attrName = a.Value
					}
				}
			case inAssert && t.Name.Local == "AttributeValue" && parent(stack) == "Attribute" && attrName != "":
				collect = true
				text.Reset()
			}
		case xml.CharData:
			if collect && text.Len()+len(t) <= 4096 {
				text.Write(t)
			}
		case xml.EndElement:
			if len(stack) == 0 {
				return SAMLAssertion{}, ErrBadSAML
			}
			name := stack[len(stack)-1]
			if collect {
				v := strings.TrimSpace(text.String())
				switch name {
				case "NameID":
					out.NameID = v
				case "AttributeValue":
					if out.Attributes == nil {
						out.Attributes = map[string][]string{}
					}
					if len(out.Attributes[attrName]) < 64 {
						out.Attributes[attrName] = append(out.Attributes[attrName], v)
					}
				}
				collect = false
			}
			if inAssert && name == "Assertion" && len(stack) == assertLvl {
				inAssert, done = false, true
			}
			stack = stack[:len(stack)-1]
		case xml.Directive:
			// A DOCTYPE has no place in a SAML message (entity tricks).
			return SAMLAssertion{}, ErrBadSAML
		}
	}
	return SAMLAssertion{}, ErrBadSAML
}

// parent is the element enclosing the innermost one on stack.
func parent(stack []string) string {
	if len(stack) < 2 {
		return ""
	}
	return stack[len(stack)-2]
}
