package appsim

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Browser steps of an SSO login, as a person's browser takes them: follow
// redirects on this site, sign in at the identity provider when it asks,
// and let the IdP's auto-post form submit itself.

// maxHops bounds a redirect chain (browsers stop at about 20).
const maxHops = 20

// SSOLogin starts an SSO login at the app (SSOLoginPath) and follows it to
// the end, signing in at the IdP with the browser's User and Password when
// the IdP has no session yet. Steps returns every response on the way; the
// last one is where the browser ended.
func (b *Browser) SSOLogin(ctx context.Context, dest string) (Steps, error) {
	res, err := b.Get(ctx, SSOLoginPath+"?os_destination="+url.QueryEscape(dest))
	if err != nil {
		return nil, err
	}
	return b.Follow(ctx, res)
}

// Steps are the responses of one navigation, in order.
type Steps []Result

// Last is where the navigation ended.
func (s Steps) Last() Result {
	if len(s) == 0 {
		return Result{}
	}
	return s[len(s)-1]
}

// Find returns the first step whose request path (as sent) starts with
// prefix.
func (s Steps) Find(prefix string) (Result, bool) {
	for _, r := range s {
		if strings.HasPrefix(r.Path, prefix) {
			return r, true
		}
	}
	return Result{}, false
}

// Follow continues a navigation from res: redirects on this site are
// followed, the IdP's sign-in form is filled in with the browser's
// credentials, and the IdP's auto-post form is submitted.
func (b *Browser) Follow(ctx context.Context, res Result) (Steps, error) {
	steps := Steps{res}
	for hop := 0; hop < maxHops; hop++ {
		var err error
		switch {
		case res.Status >= 300 && res.Status < 400 && res.Header.Get("Location") != "":
			loc, perr := url.Parse(res.Header.Get("Location"))
			if perr != nil || (loc.Host != "" && loc.Host != b.base.Host) {
				return steps, nil // off site: the test decides
			}
			res, err = b.Get(ctx, loc.RequestURI())
		case strings.Contains(res.Body, `action="`+idpLoginPath+`"`):
			if b.idpTried {
				return steps, nil // the IdP refused the password
			}
			b.idpTried = true
			res, err = b.SubmitForm(ctx, res, map[string]string{"username": b.User, "password": b.Password})
		case strings.Contains(res.Body, `action="`+SAMLConsumerPath+`"`):
			res, err = b.SubmitForm(ctx, res, nil)
		default:
			b.idpTried = false
			return steps, nil
		}
		if err != nil {
			return steps, err
		}
		steps = append(steps, res)
	}
	return steps, fmt.Errorf("browser: more than %d hops", maxHops)
}

var (
	formRE  = regexp.MustCompile(`(?is)<form[^>]*\baction="([^"]*)"`)
	inputRE = regexp.MustCompile(`(?is)<input\b[^>]*>`)
	attrRE  = regexp.MustCompile(`(?is)\b(name|value)="([^"]*)"`)
)

// SubmitForm posts the first form of res's page: its inputs with their
// values, overridden by fields.
func (b *Browser) SubmitForm(ctx context.Context, res Result, fields map[string]string) (Result, error) {
	m := formRE.FindStringSubmatch(res.Body)
	if m == nil {
		return Result{}, fmt.Errorf("browser: no form on the page of %s", res.Path)
	}
	action := html.UnescapeString(m[1])
	form := url.Values{}
	for _, in := range inputRE.FindAllString(res.Body, -1) {
		var name, value string
		for _, a := range attrRE.FindAllStringSubmatch(in, -1) {
			if strings.EqualFold(a[1], "name") {
				name = html.UnescapeString(a[2])
			} else {
				value = html.UnescapeString(a[2])
			}
		}
		if name != "" {
			form.Set(name, value)
		}
	}
	for k, v := range fields {
		form.Set(k, v)
	}
	return b.Do(ctx, http.MethodPost, action, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
}
