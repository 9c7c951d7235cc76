package proxy

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

var fullPage = template.Must(template.New("full").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>All seats are in use</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#172b4d}
h1{font-size:1.4rem}p{line-height:1.5}.hint{color:#5e6c84;font-size:.9rem}</style></head>
<body><h1>All licence seats are in use right now</h1>
{{if .Never}}<p>Every seat is held by an account that is never released automatically (administrators, service accounts), so <strong>no seat will free up by itself</strong>.</p>
<p>Please ask your administrator for a seat. Your work is not lost: nothing was sent to the application.</p>{{else}}<p>Everyone who holds a seat has been working within the last session. A seat is expected to free up in about <strong>{{.Minutes}} minute{{if ne .Minutes 1}}s{{end}}</strong>.</p>
<p>Please try again then. Your work is not lost: nothing was sent to the application.</p>{{end}}
<p class="hint">Pool: {{.Pool}}. If this happens often, ask your administrator for more seats.</p>
</body></html>
`))

// writeFull answers a request that cannot get a seat: 503 with
// Retry-After, a page for browsers and JSON for REST clients.
func writeFull(w http.ResponseWriter, r *http.Request, v Verdict) {
	secs := int(math.Ceil(v.RetryAfter.Seconds()))
	if secs < 1 {
		secs = 60
	}
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(secs))
	h.Set("Cache-Control", "no-store")
	if wantsJSON(r) {
		h.Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		msg := fmt.Sprintf("All licence seats of %s are in use; retry in about %d minutes.", v.Pool, minutes(secs))
		if v.Never {
			msg = fmt.Sprintf("All licence seats of %s are held by accounts that are never released automatically; no seat will free up by itself. Ask your administrator.", v.Pool)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"errorMessages":     []string{msg},
			"pool":              v.Pool,
			"retryAfterSeconds": secs,
			"neverFrees":        v.Never,
		})
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = fullPage.Execute(w, struct {
		Minutes int
		Pool    string
		Never   bool
	}{minutes(secs), v.Pool, v.Never})
}

func minutes(secs int) int { return int(math.Ceil(float64(secs) / float64(time.Minute/time.Second))) }

// wantsJSON: REST paths and clients that ask for JSON rather than HTML.
func wantsJSON(r *http.Request) bool {
	if strings.Contains(r.URL.Path, "/rest/") {
		return true
	}
	acc := r.Header.Get("Accept")
	return strings.Contains(acc, "application/json") && !strings.Contains(acc, "text/html")
}
