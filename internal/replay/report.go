package replay

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// SweepAround picks the seat counts of a default sizing table for a pool
// from a first replay that included an unlimited run (seats 0): from just
// under the floor-only peak (no floating licence with this floor runs on
// fewer) up to what the policy held with no limit at all, in about ten
// steps, the pool's own count included.
func SweepAround(p PoolResult) []int {
	lo := max(p.PeakFloorSeats, 1)
	hi := max(p.PeakSeats, lo)
	for _, s := range p.Sizing {
		if s.Seats == 0 {
			hi = max(hi, s.PeakSeats)
		}
	}
	set := map[int]bool{lo: true, hi: true}
	if p.Seats > 0 {
		set[p.Seats] = true
	}
	step := max((hi-lo)/8, 1)
	for n := lo; n < hi; n += step {
		set[n] = true
	}
	// Just under the floor-only peak shows what too few seats cost.
	if lo > 1 {
		set[lo-max(lo/20, 1)] = true
	}
	var out []int
	for n := range set {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// sizing returns p's rows sorted by seats, duplicates dropped.
func sizing(p PoolResult) []Size {
	rows := slices.DeleteFunc(slices.Clone(p.Sizing), func(s Size) bool { return s.Seats == 0 && p.Seats != 0 })
	slices.SortFunc(rows, func(a, b Size) int { return a.Seats - b.Seats })
	return slices.CompactFunc(rows, func(a, b Size) bool { return a.Seats == b.Seats })
}

// WriteJSON writes the contract's one object (DESIGN §3.1).
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	out := *r
	if out.Pools == nil {
		out.Pools = []PoolResult{}
	}
	return enc.Encode(out)
}

// WriteCSV writes the sizing table: one row per pool and seat count.
func WriteCSV(w io.Writer, r *Result) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"pool", "seats", "peak_seats", "grants", "revocations", "denials", "denied_users", "users", "peak_floor_seats"})
	for _, p := range r.Pools {
		for _, s := range sizing(p) {
			_ = cw.Write([]string{p.Name, strconv.Itoa(s.Seats), strconv.Itoa(s.PeakSeats), strconv.Itoa(s.Grants),
				strconv.Itoa(s.Revocations), strconv.Itoa(s.Denials), strconv.Itoa(s.DeniedUsers), strconv.Itoa(p.Users), strconv.Itoa(p.PeakFloorSeats)})
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteTable writes the human form: per pool the figures, the sizing
// table, and day by day what the replayed seat count would have done.
func WriteTable(w io.Writer, r *Result) error {
	days := r.To.Sub(r.From).Hours() / 24
	fmt.Fprintf(w, "Replayed %d lines (%d skipped) from %s to %s (%.1f days).\n",
		r.Lines, r.Skipped, r.From.Format("2006-01-02 15:04 -0700"), r.To.Format("2006-01-02 15:04 -0700"), days)
	for _, f := range r.Files {
		if f.Format == "auto" {
			fmt.Fprintf(w, "  %s: format not recognised, %d lines skipped\n", f.Name, f.Skipped)
		}
	}
	for _, p := range r.Pools {
		fmt.Fprintf(w, "\nPool %s\n", p.Name)
		seats := strconv.Itoa(p.Seats)
		if p.Seats == 0 {
			seats = "unlimited (give --seats N or the pool's seats)"
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  people who worked\t%d\n", p.Users)
		fmt.Fprintf(tw, "  fewest seats any floating licence could run on (peak_floor_seats)\t%d\n", p.PeakFloorSeats)
		fmt.Fprintf(tw, "  seats the policy held at its peak (peak_seats)\t%d\n", p.PeakSeats)
		fmt.Fprintf(tw, "  replayed at seats\t%s\n", seats)
		fmt.Fprintf(tw, "  grants / revocations / full-page logins\t%d / %d / %d\n", p.Grants, p.Revocations, p.Denials)
		if n := len(p.Days); n > 0 {
			fmt.Fprintf(tw, "  per day (average)\t%.1f grants, %.1f revocations\n", float64(p.Grants)/float64(n), float64(p.Revocations)/float64(n))
		}
		_ = tw.Flush()

		fmt.Fprintf(w, "\n  Sizing: what each seat count would have cost\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "  seats\tpeak held\tgrants\trevocations\tfull-page logins\tpeople turned away\t\n")
		for _, s := range sizing(p) {
			mark := ""
			if s.Seats == p.Seats {
				mark = " <"
			}
			fmt.Fprintf(tw, "  %d\t%d\t%d\t%d\t%d\t%d\t%s\n", s.Seats, s.PeakSeats, s.Grants, s.Revocations, s.Denials, s.DeniedUsers, mark)
		}
		_ = tw.Flush()

		fmt.Fprintf(w, "\n  Day by day at %s seats\n", strings.Fields(seats)[0])
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "  day\tpeak held\tgrants\trevocations\tfull-page logins\tminutes full\tshortest window\t\n")
		for _, d := range p.Days {
			win := "-"
			if d.MinWindow > 0 {
				win = fmtDur(d.MinWindow)
			}
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d\t%s\t\n", d.Date.Format("Mon 2006-01-02"), d.PeakSeats, d.Grants,
				d.Revocations, d.Denials, d.FullMinutes, win)
		}
		_ = tw.Flush()
		if len(p.Full) > 0 {
			fmt.Fprintf(w, "\n  The full page would have shown:\n")
			for i, s := range p.Full {
				if i == 20 {
					fmt.Fprintf(w, "    … and %d more stretches\n", len(p.Full)-20)
					break
				}
				fmt.Fprintf(w, "    %s – %s\n", s.From.Format("Mon 2006-01-02 15:04"), s.To.Format("15:04"))
			}
		}
	}
	return nil
}

// fmtDur prints a window as hours and minutes.
func fmtDur(d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%02dm", h, m)
}
