package identity

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestCredentialsAreRedacted: a logged or printed Credentials names what
// the request carried and never the values.
func TestCredentialsAreRedacted(t *testing.T) {
	secrets := []string{"sess-5EC2E7", "remember-5EC2E7", "bearer-5EC2E7", "crowd-5EC2E7"}
	c := ParseCredentials([]string{
		"JSESSIONID=" + secrets[0] + "; seraph.rememberme.cookie=" + secrets[1] + "; crowd.token_key=" + secrets[3],
	}, "Bearer "+secrets[2])
	if c.Session != secrets[0] || c.Bearer != secrets[2] {
		t.Fatalf("parse: got session %q bearer %q; without values the test would prove nothing", c.Session, c.Bearer)
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("request", "creds", c)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("request", "creds", c)
	for name, out := range map[string]string{
		"text log": text.String(), "json log": js.String(),
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c), "%s": fmt.Sprint(c),
	} {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s shows the secret %q: %s", name, s, out)
			}
		}
		if !strings.Contains(out, "REDACTED") {
			t.Errorf("%s: got %s, want REDACTED in place of the values", name, out)
		}
	}
	if !strings.Contains(text.String(), "creds.session=REDACTED") || !strings.Contains(text.String(), "creds.bearer=REDACTED") {
		t.Errorf("text log: got %s, want each credential named", text.String())
	}
	if strings.Contains(text.String(), "sso_pass") {
		t.Errorf("text log names a credential the request did not carry: %s", text.String())
	}
}
