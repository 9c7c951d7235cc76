package admin

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/store"
)

// The status page is server-rendered with no external assets: on-call open
// it from the admin port on a locked-down host.
var statusTmpl = template.Must(template.New("status").Funcs(template.FuncMap{
	"dur": func(sec float64) string { return humanDur(time.Duration(sec) * time.Second) },
	"ago": func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return humanDur(time.Since(*t)) + " ago"
	},
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"join": func(s []string) string { return strings.Join(s, ", ") },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>floatseat status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="60">
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#172b4d;background:#fafbfc}
h1{font-size:1.3rem;margin:0 0 .2rem}h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
.meta{color:#5e6c84;font-size:.85rem}
table{border-collapse:collapse;background:#fff;font-size:.9rem}
th,td{padding:.35rem .7rem;border-bottom:1px solid #dfe1e6;text-align:left}
th{background:#f4f5f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
.low{color:#bf2600;font-weight:600}.ok{color:#006644}
.card{display:inline-block;vertical-align:top;background:#fff;border:1px solid #dfe1e6;border-radius:4px;padding:.6rem .9rem;margin:0 .6rem .6rem 0}
.big{font-size:1.6rem;font-weight:600}
svg{background:#fff;border:1px solid #dfe1e6}
</style></head><body>
<h1>floatseat — {{.S.Product}}</h1>
<div class="meta">mode <b>{{.S.Mode}}</b> · directory {{if .S.Directory}}{{.S.Directory}}{{else}}none (observing only){{end}} · replica {{.S.Replica}} · version {{.S.Version}}
· session timeout (floor) {{dur .S.SessionTimeout}} · max idle (ceiling) {{dur .S.MaxIdle}}
· observing since {{ago .S.ObservedSince}} · last proxy heartbeat {{ago .S.LastHeartbeat}}
· reaper last run {{ago .S.ReaperLastRun}}{{if .S.ReaperError}} <span class="low">({{.S.ReaperError}})</span>{{end}}</div>
{{range .Pools}}
<h2>Pool {{.P.Name}}</h2>
<div class="card"><div class="meta">headroom</div><div class="big {{if lt .P.Headroom .P.Reserve}}low{{else}}ok{{end}}" data-testid="headroom-{{.P.Name}}">{{if .P.Unlimited}}∞{{else}}{{.P.Headroom}}{{end}}</div><div class="meta">reserve {{.P.Reserve}}</div></div>
<div class="card"><div class="meta">seats used / total</div><div class="big" data-testid="seats-{{.P.Name}}">{{.P.Used}} / {{if .P.Unlimited}}∞{{else}}{{.P.Seats}}{{end}}</div><div class="meta">pending grants {{.P.PendingGrants}} · pending revocations {{.P.PendingRevocations}}</div></div>
<div class="card"><div class="meta">effective window</div><div class="big" data-testid="window-{{.P.Name}}">{{dur .P.EffectiveWindowSec}}</div><div class="meta">licence read {{ago .P.LicenceReportedAt}}</div></div>
<div class="card"><div class="meta">licensed users</div><div class="big">{{.P.Licensed}}</div><div class="meta">active {{.P.Active}} · idle {{.P.Idle}} · excluded {{.P.Excluded}} · revoked by floatseat {{.P.RevokedByFloatseat}}</div></div>
{{$name := .P.Name}}{{with .P.Observe}}<div class="card"><div class="meta">observe mode: enforce would free</div><div class="big" data-testid="would-free-{{$name}}">{{.WouldFree}} seats now</div><div class="meta">peak needed {{.PeakNeeded}} · would-deny {{.WouldDeny}}</div></div>{{end}}
<div>{{.Chart}}</div>
{{end}}
<h2>Most idle licensed users</h2>
{{if .Idle}}<table><tr><th>user</th><th>pool</th><th>state</th><th>last real activity</th><th class="n">idle</th></tr>
{{range .Idle}}<tr><td>{{.User}}</td><td>{{.Pool}}</td><td>{{.State}}</td><td>{{if .LastActive}}{{ago .LastActive}}{{else}}not seen since observation start{{end}}</td><td class="n">{{dur .IdleSec}}</td></tr>
{{end}}</table>{{else}}<p class="meta">{{.IdleNote}}</p>{{end}}
<h2>Recent audit events</h2>
{{if .Events}}<table><tr><th>time</th><th>action</th><th>user</th><th>pool</th><th>groups</th><th>reason</th><th>trigger</th><th>mode</th></tr>
{{range .Events}}<tr><td>{{when .Time}}</td><td>{{.Action}}</td><td>{{.User}}</td><td>{{.Pool}}</td><td>{{join .Groups}}</td><td>{{.Reason}}{{if .Error}} <span class="low">{{.Error}}</span>{{end}}</td><td>{{.Trigger}}</td><td>{{.Mode}}</td></tr>
{{end}}</table>{{else}}<p class="meta">No grant or revocation yet.</p>{{end}}
<p class="meta">API: <a href="/api/v1/status">/api/v1/status</a> · <a href="/api/v1/users">/api/v1/users</a> · <a href="/api/v1/audit?format=csv">audit CSV</a> · <a href="/metrics">/metrics</a></p>
</body></html>
`))

type poolView struct {
	P     PoolStatus
	Chart template.HTML
}

// MountStatusPage serves the status page at / on r.
func (a *Model) MountStatusPage(r *mux.Router) {
	r.HandleFunc("/", a.statusPage).Methods(http.MethodGet)
}

func (a *Model) statusPage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	st, err := a.Status(ctx)
	if err != nil {
		http.Error(w, "status unavailable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	data := struct {
		S        *Status
		Pools    []poolView
		Idle     []UserInfo
		IdleNote string
		Events   []audit.Event
	}{S: st}
	for _, p := range st.Pools {
		samples, _ := a.store.Samples(ctx, p.Name, time.Now().Add(-24*time.Hour))
		data.Pools = append(data.Pools, poolView{P: p, Chart: chartSVG(p.Name, samples)})
	}
	if a.seats != nil {
		us, err := a.Users(ctx, "", "licensed")
		if err != nil {
			data.IdleNote = "directory unavailable: " + err.Error()
		}
		if len(us) > 15 {
			us = us[:15]
		}
		data.Idle = us
	} else {
		data.IdleNote = "No directory configured: floatseat records activity but manages no seats."
	}
	data.Events, _ = a.audit.Recent(ctx, 20)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := statusTmpl.Execute(w, data); err != nil {
		a.log.Warn("status page", "err", err)
	}
}

// chartSpans are the spans the chart picks from, the shortest that holds
// every sample: a demo of a few minutes is readable, a day at most is kept.
var chartSpans = [...]time.Duration{10 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour,
	6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// chartSpan is the shortest chart span covering age (the oldest sample's).
func chartSpan(age time.Duration) time.Duration {
	for _, s := range chartSpans {
		if age <= s {
			return s
		}
	}
	return chartSpans[len(chartSpans)-1]
}

// chartSVG draws headroom and licensed users over the span of the samples
// (up to 24 hours) as inline SVG.
func chartSVG(pool string, s []store.Sample) template.HTML {
	const W, H, pad = 720.0, 160.0, 28.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="headroom and licensed users of %s" data-testid="chart-%s">`,
		int(W), int(H), int(W), int(H), template.HTMLEscapeString(pool), template.HTMLEscapeString(pool))
	if len(s) < 2 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#5e6c84" font-size="13">collecting samples (one a reaper run)…</text></svg>`, int(pad), int(H/2))
		return template.HTML(b.String())
	}
	end := time.Now()
	span := chartSpan(end.Sub(s[0].At))
	start := end.Add(-span)
	max := 1.0
	for _, p := range s {
		max = math.Max(max, math.Max(float64(p.Licensed), float64(p.Headroom)))
	}
	x := func(t time.Time) float64 { return pad + (W-2*pad)*t.Sub(start).Seconds()/span.Seconds() }
	y := func(v int) float64 { return H - pad - (H-2*pad)*float64(v)/max }
	line := func(get func(store.Sample) int, colour, name string) {
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="`, colour)
		for _, p := range s {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(p.At), y(get(p)))
		}
		fmt.Fprintf(&b, `"><title>%s</title></polyline>`, name)
	}
	fmt.Fprintf(&b, `<line x1="%v" y1="%v" x2="%v" y2="%v" stroke="#dfe1e6"/>`, pad, H-pad, W-pad, H-pad)
	line(func(p store.Sample) int { return p.Licensed }, "#0052cc", "licensed users")
	line(func(p store.Sample) int { return p.Headroom }, "#36b37e", "headroom")
	fmt.Fprintf(&b, `<text x="%v" y="14" font-size="11" fill="#0052cc">licensed users</text><text x="%v" y="14" font-size="11" fill="#36b37e">headroom</text>`, pad, pad+100)
	fmt.Fprintf(&b, `<text x="%v" y="%v" font-size="10" fill="#5e6c84" data-testid="chart-span-%s">%s ago</text><text x="%v" y="%v" font-size="10" fill="#5e6c84">now · max %d</text></svg>`,
		pad, H-8, template.HTMLEscapeString(pool), humanDur(span), W-pad-70, H-8, int(max))
	return template.HTML(b.String())
}

// HumanDuration writes d the way the status page and the CLI show it:
// "45s", "12m", "5h03m", "3d04h".
func HumanDuration(d time.Duration) string { return humanDur(d) }

func humanDur(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}
