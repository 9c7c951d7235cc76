package appsim

import (
	"encoding/json"
	"net/http"
	"time"
)

// Personal access tokens (REFERENCE §2: Bearer <PAT>, the username is not in
// the request). A token authenticates its owner on each request without a
// Seraph login: no session, no failed-login counting, no X-Seraph-LoginReason.
// Assumption: the per-request licence check still applies to real work when
// UnlicensedSessionForbidden is on, as it does for sessions.

type patToken struct {
	id      int
	name    string
	user    string
	created time.Time
	expires time.Time // zero: never
}

func (s *Sim) patUser(raw string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.pats[raw]
	if !ok || (!t.expires.IsZero() && !s.now().Before(t.expires)) {
		return "", false
	}
	return t.user, true
}

// CreatePAT makes a token for user directly (test setup) and returns it.
func (s *Sim) CreatePAT(user, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createPATLocked(user, name, 0).raw
}

type createdPAT struct {
	t   *patToken
	raw string
}

func (s *Sim) createPATLocked(user, name string, days int) createdPAT {
	s.nextPATID++
	t := &patToken{id: s.nextPATID, name: name, user: user, created: s.now()}
	if days > 0 {
		t.expires = s.now().AddDate(0, 0, days)
	}
	raw := newToken()
	s.pats[raw] = t
	return createdPAT{t: t, raw: raw}
}

// handleCreatePAT serves POST /rest/pat/latest/tokens
// {"name","expirationDuration"(days)} → 201 with rawToken. The caller must be
// authenticated (session or Basic).
func (s *Sim) handleCreatePAT(w http.ResponseWriter, r *http.Request) {
	rs := state(r)
	if rs.user == "" || rs.via == "pat" {
		s.writeError(w, http.StatusUnauthorized, "You are not authenticated.")
		return
	}
	var body struct {
		Name               string `json:"name"`
		ExpirationDuration int    `json:"expirationDuration"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10)).Decode(&body); err != nil {
		s.writeError(w, http.StatusBadRequest, "bad JSON")
		return
	}
	s.mu.Lock()
	c := s.createPATLocked(rs.user, body.Name, body.ExpirationDuration)
	s.mu.Unlock()
	out := map[string]any{
		"id": c.t.id, "name": c.t.name, "createdAt": c.t.created.Format(time.RFC3339), "rawToken": c.raw,
	}
	if !c.t.expires.IsZero() {
		out["expiringAt"] = c.t.expires.Format(time.RFC3339)
	}
	writeJSON(w, http.StatusCreated, out)
}
