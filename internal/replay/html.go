package replay

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// WriteHTML writes one self-contained page: per pool the figures, a chart
// of the seats held over time against the seats (and what the floor alone
// would hold), the full-page stretches, the sizing table and the days.
func WriteHTML(w io.Writer, r *Result) error {
	type poolView struct {
		PoolResult
		SeatsText string
		Chart     template.HTML
		DayChart  template.HTML
		Rows      []Size
		PerDay    string
	}
	view := struct {
		R     *Result
		Pools []poolView
		Span  string
	}{R: r, Span: fmt.Sprintf("%s – %s", r.From.Format("Mon 2 Jan 2006 15:04"), r.To.Format("Mon 2 Jan 2006 15:04 -0700"))}
	for _, p := range r.Pools {
		v := poolView{PoolResult: p, SeatsText: fmt.Sprint(p.Seats), Chart: chart(p, r.Zone), DayChart: dayChart(p), Rows: sizing(p)}
		if p.Seats == 0 {
			v.SeatsText = "unlimited"
		}
		if n := len(p.Days); n > 0 {
			v.PerDay = fmt.Sprintf("%.1f grants and %.1f revocations a day", float64(p.Grants)/float64(n), float64(p.Revocations)/float64(n))
		}
		view.Pools = append(view.Pools, v)
	}
	return pageTmpl.Execute(w, view)
}

const (
	chartW, chartH         = 960.0, 300.0
	padL, padR, padT, padB = 48.0, 16.0, 16.0, 28.0
)

// chart draws seats held (the policy), seats held by the floor alone, the
// seat count, and red ticks where the full page showed.
func chart(p PoolResult, zone *time.Location) template.HTML {
	if len(p.Series) < 2 {
		return ""
	}
	t0, t1 := p.Series[0].At, p.Series[len(p.Series)-1].At
	span := t1.Sub(t0).Seconds()
	top := max(p.Seats, p.PeakSeats, 1)
	for _, s := range p.Series {
		top = max(top, s.Floor)
	}
	// The axis ends on the first round number above the highest line.
	tk := ticks(top)
	step := 1
	if len(tk) > 1 {
		step = tk[1] - tk[0]
	}
	tk = append(tk, tk[len(tk)-1]+step)
	yMax := float64(tk[len(tk)-1])
	x := func(t time.Time) float64 { return padL + (chartW-padL-padR)*t.Sub(t0).Seconds()/span }
	y := func(v int) float64 { return padT + (chartH-padT-padB)*(1-float64(v)/yMax) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" role="img" aria-label="seats held over time">`, chartW, chartH)
	// Day bands and labels.
	day := time.Date(t0.In(zone).Year(), t0.In(zone).Month(), t0.In(zone).Day(), 0, 0, 0, 0, zone)
	every := max(int(span/86400/12), 1)
	for i := 0; !day.After(t1); i++ {
		next := day.AddDate(0, 0, 1)
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" class="weekend"/>`,
				max(x(day), padL), padT, min(x(next), chartW-padR)-max(x(day), padL), chartH-padT-padB)
		}
		if i%every == 0 && !day.Before(t0) {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" class="axis">%s</text>`, x(day)+2, chartH-8, day.Format("Mon 2 Jan"))
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" class="grid"/>`, x(day), x(day), padT, chartH-padB)
		}
		day = next
	}
	// Horizontal grid.
	for _, v := range tk {
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" class="grid"/><text x="%.0f" y="%.1f" class="axis" text-anchor="end">%d</text>`,
			padL, chartW-padR, y(v), y(v), padL-6, y(v)+4, v)
	}
	// Full page stretches.
	for _, s := range p.Full {
		x0 := x(s.From)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" class="full"><title>full page %s–%s</title></rect>`,
			x0, padT, max(x(s.To)-x0, 1.5), chartH-padT-padB, s.From.Format("Mon 15:04"), s.To.Format("15:04"))
	}
	line := func(get func(Point) int, class string) {
		b.WriteString(`<polyline class="` + class + `" points="`)
		for _, pt := range downsample(p.Series, get, 1200) {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(pt.At), y(get(pt)))
		}
		b.WriteString(`"/>`)
	}
	line(func(pt Point) int { return pt.Floor }, "floor")
	line(func(pt Point) int { return pt.Held }, "held")
	if p.Seats > 0 {
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" class="seats"/><text x="%.0f" y="%.1f" class="seatlabel" text-anchor="end">%d seats</text>`,
			padL, chartW-padR, y(p.Seats), y(p.Seats), chartW-padR-4, y(p.Seats)-5, p.Seats)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// downsample keeps at most n points, each the highest of its bucket, so
// that peaks survive.
func downsample(pts []Point, get func(Point) int, n int) []Point {
	if len(pts) <= n {
		return pts
	}
	out := make([]Point, 0, n+1)
	per := float64(len(pts)) / float64(n)
	for i := 0; i < n; i++ {
		lo, hi := int(float64(i)*per), int(float64(i+1)*per)
		best := pts[lo]
		for _, p := range pts[lo:hi] {
			if get(p) > get(best) {
				best = p
			}
		}
		out = append(out, best)
	}
	return append(out, pts[len(pts)-1])
}

func ticks(top int) []int {
	step := 1
	for _, s := range []int{1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000} {
		step = s
		if top/s <= 6 {
			break
		}
	}
	var out []int
	for v := 0; v <= top; v += step {
		out = append(out, v)
	}
	return out
}

// dayChart draws grants and revocations per day as paired bars.
func dayChart(p PoolResult) template.HTML {
	if len(p.Days) == 0 {
		return ""
	}
	const w, h, pl, pb = 960.0, 160.0, 48.0, 22.0
	top := 1
	for _, d := range p.Days {
		top = max(top, d.Grants, d.Revocations)
	}
	bw := (w - pl - 16) / float64(len(p.Days))
	y := func(v int) float64 { return 8 + (h-8-pb)*(1-float64(v)/float64(top)) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" role="img" aria-label="grants and revocations per day">`, w, h)
	for _, v := range ticks(top) {
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" class="grid"/><text x="%.0f" y="%.1f" class="axis" text-anchor="end">%d</text>`,
			pl, w-16, y(v), y(v), pl-6, y(v)+4, v)
	}
	every := max(len(p.Days)/12, 1)
	for i, d := range p.Days {
		x0 := pl + float64(i)*bw
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="grant"><title>%s: %d grants</title></rect>`,
			x0+bw*0.1, y(d.Grants), bw*0.38, h-pb-y(d.Grants), d.Date.Format("Mon 2 Jan"), d.Grants)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="revoke"><title>%s: %d revocations</title></rect>`,
			x0+bw*0.5, y(d.Revocations), bw*0.38, h-pb-y(d.Revocations), d.Date.Format("Mon 2 Jan"), d.Revocations)
		if i%every == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" class="axis">%s</text>`, x0+2, h-6, d.Date.Format("2 Jan"))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

var pageTmpl = template.Must(template.New("replay").Funcs(template.FuncMap{
	"dur": func(d time.Duration) string {
		if d == 0 {
			return "–"
		}
		return fmtDur(d)
	},
	"pct": func(a, b int) string {
		if b == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f%%", 100*float64(a)/float64(b))
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>floatseat replay</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f5f6f8;color:#172b4d}
header{background:#0b3d91;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:22px;font-weight:600}
header p{margin:4px 0 0;opacity:.85}
main{padding:8px 32px 40px;max-width:1040px}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(9,30,66,.15);padding:18px 22px;margin:18px 0}
h2{margin:0 0 12px;font-size:19px}
h3{margin:18px 0 6px;font-size:15px;color:#42526e}
.kpis{display:flex;gap:14px;flex-wrap:wrap}
.kpi{flex:1 1 150px;background:#f4f5f7;border-radius:6px;padding:10px 14px}
.kpi b{display:block;font-size:26px;font-weight:650}
.kpi span{color:#5e6c84;font-size:13px}
.kpi.bad b{color:#c9372c}.kpi.good b{color:#1f845a}
svg{width:100%;height:auto;display:block}
.grid{stroke:#e4e6ea;stroke-width:1}.axis{font-size:11px;fill:#6b778c}
.weekend{fill:#f4f5f7}
.held{fill:none;stroke:#0c66e4;stroke-width:2}
.floor{fill:none;stroke:#8590a2;stroke-width:1.3;stroke-dasharray:4 3}
.seats{stroke:#c9372c;stroke-width:1.6;stroke-dasharray:7 4}.seatlabel{font-size:12px;fill:#c9372c;font-weight:600}
.full{fill:#c9372c;opacity:.35}
.grant{fill:#0c66e4}.revoke{fill:#f5a623}
.legend{font-size:13px;color:#42526e;margin:6px 0 0}
.legend i{display:inline-block;width:18px;height:3px;vertical-align:middle;margin:0 6px 0 14px}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{padding:5px 10px;text-align:right;border-bottom:1px solid #ebecf0}
th{color:#5e6c84;font-weight:600}th:first-child,td:first-child{text-align:left}
tr.current td{background:#e9f2ff;font-weight:600}
td.bad{color:#c9372c;font-weight:600}
details{margin-top:10px}summary{cursor:pointer;color:#0c66e4}
.note{color:#5e6c84;font-size:13px}
</style></head><body>
<header><h1>What floating licences would have done</h1>
<p>{{.R.Lines}} log lines ({{.R.Skipped}} unreadable, skipped) · {{.Span}}</p></header>
<main>
{{range .Pools}}<section>
<h2>{{.Name}}</h2>
<div class="kpis">
<div class="kpi"><b data-testid="users-{{.Name}}">{{.Users}}</b><span>people worked</span></div>
<div class="kpi good"><b data-testid="peak-floor-{{.Name}}">{{.PeakFloorSeats}}</b><span>fewest seats possible with this session timeout</span></div>
<div class="kpi"><b data-testid="peak-{{.Name}}">{{.PeakSeats}}</b><span>seats held at the peak, at {{.SeatsText}} seats</span></div>
<div class="kpi"><b>{{.Revocations}}</b><span>revocations · {{.PerDay}}</span></div>
<div class="kpi {{if .Denials}}bad{{else}}good{{end}}"><b data-testid="denials-{{.Name}}">{{.Denials}}</b><span>logins met “all seats are in use”</span></div>
</div>
<h3>Seats held over time</h3>
<div data-testid="chart-{{.Name}}">{{.Chart}}</div>
<p class="legend"><i style="background:#0c66e4"></i>held under the policy<i style="background:#8590a2"></i>active within the session timeout<i style="background:#c9372c"></i>seats{{if .Full}}<i style="background:#c9372c;opacity:.35;height:10px"></i>full page shown{{end}}</p>
<h3>Grants and revocations per day</h3>
{{.DayChart}}
<p class="legend"><i style="background:#0c66e4;height:10px"></i>grants<i style="background:#f5a623;height:10px"></i>revocations</p>
<h3>Sizing: what each seat count would have cost</h3>
<table><tr><th>seats</th><th>peak held</th><th>grants</th><th>revocations</th><th>logins met the full page</th><th>people turned away</th></tr>
{{$cur := .Seats}}{{range .Rows}}<tr{{if eq .Seats $cur}} class="current"{{end}}><td>{{.Seats}}</td><td>{{.PeakSeats}}</td><td>{{.Grants}}</td><td>{{.Revocations}}</td><td{{if .Denials}} class="bad"{{end}}>{{.Denials}}</td><td{{if .DeniedUsers}} class="bad"{{end}}>{{.DeniedUsers}}</td></tr>
{{end}}</table>
<details><summary>Day by day</summary>
<table><tr><th>day</th><th>peak held</th><th>grants</th><th>revocations</th><th>full-page logins</th><th>minutes full</th><th>shortest window</th></tr>
{{range .Days}}<tr><td>{{.Date.Format "Mon 2 Jan"}}</td><td>{{.PeakSeats}}</td><td>{{.Grants}}</td><td>{{.Revocations}}</td><td{{if .Denials}} class="bad"{{end}}>{{.Denials}}</td><td>{{.FullMinutes}}</td><td>{{dur .MinWindow}}</td></tr>
{{end}}</table></details>
</section>{{end}}
<p class="note">floatseat replay ran the configured noise rules and the reaper's own window policy over the logs. Logs show requests, not logins: a user counts from their first real request. See docs/replay.md.</p>
</main></body></html>
`))
