package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/floatseat/floatseat/internal/identity"
)

// Outcome is how a request that carried a claim ended, as far as the proxy
// saw it.
type Outcome struct {
	// Status is the response status; 0 when nothing was ever written.
	Status int
	// Header is the response header (nil when nothing was written).
	Header http.Header
	// Body is the start of the response body, kept only for a route whose
	// success signal is in the body (the gadget login).
	Body []byte
	// ClientGone: the client went away before any response was written.
	ClientGone bool
}

// Judgement is what an Outcome says about a claim.
type Judgement struct {
	// Confirmed: the app's answer names the claimed user and carries the
	// route's success signal (REFERENCE §12).
	Confirmed bool
	// Await: an SSO login that set a new session without naming anyone yet;
	// a later request the app answers as the user confirms it, or the grant
	// is rolled back when the seat engine's wait ends.
	Await bool
	// Why is the audit reason when neither: bad-credentials, captcha,
	// no-licence, other-user, anonymous, status-NNN, no-success-signal,
	// client-gone, upstream-error.
	Why string
}

// Audit reasons of a claim the app did not confirm.
const (
	WhyBadCredentials = "bad-credentials" // X-Seraph-LoginReason AUTHENTICATED_FAILED
	WhyCaptcha        = "captcha"         // AUTHENTICATION_DENIED
	WhyNoLicence      = "no-licence"      // AUTHORISATION_FAILED
	WhyOtherUser      = "other-user"      // X-AUSERNAME names someone else
	WhyAnonymous      = "anonymous"       // the app answered as nobody
	WhyNoSignal       = "no-success-signal"
	WhyClientGone     = "client-gone"
	WhyUpstream       = "upstream-error" // upstream down, timed out, or the answer was cut
	WhyUnconfirmed    = "unconfirmed"    // SSO: no request as the user within the wait
)

// Judge decides whether the app confirmed the claim of id (REFERENCE §12):
// the route's own success signal, and X-AUSERNAME naming the same user
// case-insensitively. Anything else is not a confirmation.
func Judge(id identity.Identity, o Outcome) Judgement {
	if o.Status == 0 {
		if o.ClientGone {
			return Judgement{Why: WhyClientGone}
		}
		return Judgement{Why: WhyUpstream}
	}
	switch firstReason(firstValue(o.Header, "X-Seraph-Loginreason")) {
	case "AUTHENTICATED_FAILED":
		return Judgement{Why: WhyBadCredentials}
	case "AUTHENTICATION_DENIED":
		return Judgement{Why: WhyCaptcha}
	case "AUTHORISATION_FAILED":
		return Judgement{Why: WhyNoLicence}
	}
	named := appUser(o.Header)
	sso := id.Route == identity.RouteSAML || id.Route == identity.RouteOIDC
	if sso && (named == "" || equalFold(named, id.User)) && isRedirect(o.Status) && newSession(o.Header) {
		// Even a redirect naming the user is not the confirmation: that is
		// the app's requests as the user that follow (REFERENCE §12).
		return Judgement{Await: true}
	}
	if o.Status == http.StatusBadGateway || o.Status == http.StatusGatewayTimeout {
		return Judgement{Why: WhyUpstream}
	}
	var signal bool
	switch {
	case id.Source == identity.SourceBasic && id.Route == identity.RouteNone:
		signal = true // any answer that names the user: Basic is a login on every request
	case sso:
		signal = isRedirect(o.Status) && newSession(o.Header)
	case id.Route == identity.RouteJiraLogin, id.Route == identity.RouteConfluenceLogin:
		signal = isRedirect(o.Status) && firstReason(firstValue(o.Header, "X-Seraph-Loginreason")) == "OK"
	case id.Route == identity.RouteRESTSession, id.Route == identity.RouteTSVAuthenticate:
		signal = o.Status == http.StatusOK
	case id.Route == identity.RouteGadgetLogin:
		signal = o.Status == http.StatusOK && gadgetSucceeded(o.Body)
	}
	switch {
	case named == "":
		if !signal && o.Status >= 400 {
			return Judgement{Why: "status-" + strconv.Itoa(o.Status)}
		}
		return Judgement{Why: WhyAnonymous}
	case !equalFold(named, id.User):
		return Judgement{Why: WhyOtherUser}
	case !signal:
		if o.Status >= 400 {
			return Judgement{Why: "status-" + strconv.Itoa(o.Status)}
		}
		return Judgement{Why: WhyNoSignal}
	}
	return Judgement{Confirmed: true}
}

func isRedirect(status int) bool { return status >= 300 && status < 400 }

// newSession reports a response that sets a (non-empty) JSESSIONID.
func newSession(h http.Header) bool {
	for _, ch := range identity.ResponseCookies(h, time.Now()) {
		if ch.Kind == identity.KindSession && !ch.Deleted {
			return true
		}
	}
	return false
}

// gadgetSucceeded reads loginSucceeded from the gadget login's JSON answer.
func gadgetSucceeded(body []byte) bool {
	var v struct {
		LoginSucceeded bool `json:"loginSucceeded"`
	}
	return json.Unmarshal(bytes.TrimSpace(body), &v) == nil && v.LoginSucceeded
}

// firstReason is the first X-Seraph-LoginReason value: the header can carry
// several ("OUT, OK") and the first one stamped wins (REFERENCE §1).
func firstReason(h string) string {
	first, _, _ := strings.Cut(h, ",")
	return strings.TrimSpace(first)
}
