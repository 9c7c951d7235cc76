package identity

import (
	"crypto/subtle"
	"strconv"
	"strings"
	"time"
)

// The browser hint (DESIGN §2.1): floatseat's own cookie naming the last
// user the app confirmed (X-AUSERNAME) on a response to this browser. It is
// what names the user of an SSO login whose request does not (an OIDC
// callback, an encrypted SAML assertion), so that the seat can be given back
// before the app decides. It is signed with the identity HMAC key, which
// every replica shares, and never forwarded to the app.
//
// Value: "1|<user>|<expiry unix seconds>|<hex HMAC of what precedes>", the
// user percent-encoded outside [A-Za-z0-9@+_-]. Parsing, checking and
// comparing allocate nothing: it runs on every browser request.

// HintCookie is the hint cookie's name.
const HintCookie = "floatseat.hint"

// KindHint keys the hint's HMAC apart from learned mappings.
const KindHint Kind = 'h'

const hintVersion = "1|"

// Hints signs and checks hint cookies.
type Hints struct {
	h     *Hasher
	ttl   time.Duration
	path  string
	clock func() time.Time
}

// NewHints returns Hints signing with h; cookies live ttl and are scoped to
// path (the app's context path, "/" when empty).
func NewHints(h *Hasher, ttl time.Duration, path string, clock func() time.Time) *Hints {
	if path == "" {
		path = "/"
	}
	if clock == nil {
		clock = time.Now
	}
	return &Hints{h: h, ttl: ttl, path: path, clock: clock}
}

// parseHint splits a hint value; ok is false for anything malformed.
func parseHint(v string) (payload, user string, exp int64, mac string, ok bool) {
	if !strings.HasPrefix(v, hintVersion) {
		return "", "", 0, "", false
	}
	i := strings.LastIndexByte(v, '|')
	if i <= len(hintVersion) {
		return "", "", 0, "", false
	}
	payload, mac = v[:i], v[i+1:]
	j := strings.LastIndexByte(payload, '|')
	if j < len(hintVersion) {
		return "", "", 0, "", false
	}
	user = payload[len(hintVersion):j]
	exp, err := strconv.ParseInt(payload[j+1:], 10, 64)
	if err != nil || user == "" || len(mac) != 2*len(MapKey{}) {
		return "", "", 0, "", false
	}
	return payload, user, exp, mac, true
}

// valid checks the signature and the expiry, and returns the encoded user
// and the expiry.
func (hs *Hints) valid(v string) (encUser string, exp int64, ok bool) {
	payload, encUser, exp, mac, ok := parseHint(v)
	if !ok || exp <= hs.clock().Unix() {
		return "", 0, false
	}
	want := hs.h.Key(KindHint, payload)
	var got MapKey
	for i := range got {
		hi, ok1 := unhex(mac[2*i])
		lo, ok2 := unhex(mac[2*i+1])
		if !ok1 || !ok2 {
			return "", 0, false
		}
		got[i] = hi<<4 | lo
	}
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return "", 0, false
	}
	return encUser, exp, true
}

// Fresh reports whether v is a valid hint naming user (case-insensitively)
// with more than half its lifetime left: then nothing needs to be set.
func (hs *Hints) Fresh(v, user string) bool {
	if v == "" {
		return false
	}
	enc, exp, ok := hs.valid(v)
	if !ok || exp-hs.clock().Unix() < int64(hs.ttl/time.Second)/2 {
		return false
	}
	return encodedEqualFold(enc, user)
}

// User returns the user a valid, unexpired hint names.
func (hs *Hints) User(v string) (string, bool) {
	enc, _, ok := hs.valid(v)
	if !ok {
		return "", false
	}
	u, err := decodeHintUser(enc)
	if err != nil {
		return "", false
	}
	if u, err = cleanUser(u); err != nil {
		return "", false
	}
	return u, true
}

// Value returns a signed hint value naming user.
func (hs *Hints) Value(user string) string {
	var b strings.Builder
	b.WriteString(hintVersion)
	encodeHintUser(&b, user)
	b.WriteByte('|')
	b.WriteString(strconv.FormatInt(hs.clock().Add(hs.ttl).Unix(), 10))
	k := hs.h.Key(KindHint, b.String())
	b.WriteByte('|')
	b.WriteString(k.String())
	return b.String()
}

// SetCookie is the Set-Cookie line naming user. Over HTTPS it is
// SameSite=None; Secure, so that it travels on the IdP's cross-site POST to
// the SAML consumer; over plain HTTP browsers refuse SameSite=None without
// Secure, so it is Lax (docs/sso.md: encrypted-SAML returns need HTTPS).
func (hs *Hints) SetCookie(user string, secure bool) string {
	var b strings.Builder
	b.WriteString(HintCookie)
	b.WriteByte('=')
	b.WriteString(hs.Value(user))
	b.WriteString("; Path=")
	b.WriteString(hs.path)
	b.WriteString("; Max-Age=")
	b.WriteString(strconv.FormatInt(int64(hs.ttl/time.Second), 10))
	b.WriteString("; HttpOnly")
	if secure {
		b.WriteString("; Secure; SameSite=None")
	} else {
		b.WriteString("; SameSite=Lax")
	}
	return b.String()
}

func hintSafe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '@' || c == '+' || c == '_' || c == '-'
}

const hexDigits = "0123456789abcdef"

func encodeHintUser(b *strings.Builder, u string) {
	for i := 0; i < len(u); i++ {
		c := u[i]
		if hintSafe(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
}

type errBadHint struct{}

func (errBadHint) Error() string { return "malformed hint" }

func decodeHintUser(enc string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(enc); i++ {
		c, n, ok := hintByte(enc, i)
		if !ok {
			return "", errBadHint{}
		}
		b.WriteByte(c)
		i += n
	}
	return b.String(), nil
}

// hintByte decodes the byte at enc[i]; n is how many extra bytes it took.
func hintByte(enc string, i int) (c byte, n int, ok bool) {
	c = enc[i]
	if c != '%' {
		return c, 0, hintSafe(c)
	}
	if i+2 >= len(enc) {
		return 0, 0, false
	}
	hi, ok1 := unhex(enc[i+1])
	lo, ok2 := unhex(enc[i+2])
	return hi<<4 | lo, 2, ok1 && ok2
}

// encodedEqualFold compares an encoded hint user with u, ASCII
// case-insensitively, without decoding into memory.
func encodedEqualFold(enc, u string) bool {
	j := 0
	for i := 0; i < len(enc); i++ {
		c, n, ok := hintByte(enc, i)
		if !ok || j >= len(u) || lower(c) != lower(u[j]) {
			return false
		}
		i += n
		j++
	}
	return j == len(u)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// SSOPassCookie lets the next SSO failures of this browser through to the
// app's own page for a few minutes: set when someone typed on floatseat's
// seat page a user floatseat holds no seat for (docs/sso.md).
const SSOPassCookie = "floatseat.sso_pass"

// passTTL is how long an SSO pass lasts.
const passTTL = 5 * time.Minute

const passVersion = "p|"

// PassCookie is the Set-Cookie line of a signed SSO pass.
func (hs *Hints) PassCookie(secure bool) string {
	payload := passVersion + strconv.FormatInt(hs.clock().Add(passTTL).Unix(), 10)
	k := hs.h.Key(KindHint, payload)
	c := SSOPassCookie + "=" + payload + "|" + k.String() + "; Path=" + hs.path + "; Max-Age=" +
		strconv.Itoa(int(passTTL/time.Second)) + "; HttpOnly"
	if secure {
		return c + "; Secure; SameSite=None"
	}
	return c + "; SameSite=Lax"
}

// PassValid reports a signed, unexpired SSO pass.
func (hs *Hints) PassValid(v string) bool {
	i := strings.LastIndexByte(v, '|')
	if !strings.HasPrefix(v, passVersion) || i < len(passVersion) {
		return false
	}
	exp, err := strconv.ParseInt(v[len(passVersion):i], 10, 64)
	if err != nil || exp <= hs.clock().Unix() {
		return false
	}
	want := hs.h.Key(KindHint, v[:i])
	return subtle.ConstantTimeCompare([]byte(v[i+1:]), []byte(want.String())) == 1
}
