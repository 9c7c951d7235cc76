package cli

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/floatseat/floatseat/internal/admin"
)

// client talks to a running floatseat's admin API.
type client struct {
	base  string
	token string
	http  *http.Client
}

func cmdClient(name string) func(args []string, stdout, stderr io.Writer) int {
	return func(args []string, stdout, stderr io.Writer) int {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		adminURL := fs.String("admin", envOr("FLOATSEAT_ADMIN_URL", "http://127.0.0.1:9090"), "admin API base URL")
		tokenFile := fs.String("token-file", "", "file holding the admin or read token (or FLOATSEAT_ADMIN_TOKEN); sent on every call")
		format := fs.String("format", "table", "table, json or csv")
		pool := fs.String("pool", "", "pool (users, revoke)")
		state := fs.String("state", "", "licensed, revoked or excluded (users)")
		since := fs.String("since", "", "RFC 3339 time, date or duration back from now, e.g. 24h (audit)")
		// Flags may come before or after the user: floatseat grant carol --admin URL.
		pos, err := parseInterleaved(fs, args)
		if err != nil {
			return 2
		}
		c := &client{base: strings.TrimRight(*adminURL, "/"), http: &http.Client{Timeout: 30 * time.Second}}
		c.token = os.Getenv("FLOATSEAT_ADMIN_TOKEN")
		if *tokenFile != "" {
			b, err := os.ReadFile(*tokenFile)
			if err != nil {
				fmt.Fprintln(stderr, "floatseat:", err)
				return 1
			}
			c.token = strings.TrimSpace(string(b))
		}
		if name != "grant" && name != "revoke" && len(pos) > 0 {
			fmt.Fprintf(stderr, "floatseat %s: unexpected argument %q\n", name, pos[0])
			return 2
		}
		switch name {
		case "status":
			err = c.status(stdout, *format)
		case "users":
			err = c.users(stdout, *format, *pool, *state)
		case "audit":
			err = c.audit(stdout, *format, *since)
		case "grant", "revoke":
			if len(pos) != 1 {
				fmt.Fprintf(stderr, "usage: floatseat %s [--admin URL] [--token-file F] USER\n", name)
				return 2
			}
			q := ""
			if *pool != "" {
				q = "?pool=" + url.QueryEscape(*pool)
			}
			var out map[string]any
			err = c.do(http.MethodPost, "/api/v1/users/"+url.PathEscape(pos[0])+"/"+name+q, &out)
			if err == nil {
				b, _ := json.MarshalIndent(out, "", "  ")
				fmt.Fprintln(stdout, string(b))
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, "floatseat:", err)
			return 1
		}
		return 0
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (c *client) get(path string) (*http.Response, error) {
	return c.request(http.MethodGet, path)
}

func (c *client) request(method, path string) (*http.Response, error) {
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the admin API at %s (is floatseat running, and is --admin right?): %w", c.base, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var e struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&e)
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			return nil, errors.New("the admin token was refused: check --token-file or FLOATSEAT_ADMIN_TOKEN")
		case http.StatusForbidden:
			return nil, fmt.Errorf("forbidden: %s", e.Error)
		}
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, e.Error)
	}
	return resp, nil
}

func (c *client) do(method, path string, out any) error {
	resp, err := c.request(method, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

func (c *client) status(w io.Writer, format string) error {
	var st admin.Status
	if err := c.do(http.MethodGet, "/api/v1/status", &st); err != nil {
		return err
	}
	if format == "json" {
		return writeIndented(w, st)
	}
	fmt.Fprintf(w, "floatseat %s  product %s  mode %s  directory %q  replica %s\n", st.Version, st.Product, st.Mode, st.Directory, st.Replica)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POOL\tSEATS\tUSED\tPENDING\tHEADROOM\tRESERVE\tWINDOW\tLICENSED\tACTIVE\tIDLE\tEXCLUDED\tREVOKED")
	for _, p := range st.Pools {
		seats := fmt.Sprint(p.Seats)
		if p.Unlimited {
			seats = "unlimited"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%d\n", p.Name, seats, p.Used, p.PendingGrants, p.Headroom,
			p.Reserve, admin.HumanDuration(time.Duration(p.EffectiveWindowSec)*time.Second), p.Licensed, p.Active, p.Idle, p.Excluded, p.RevokedByFloatseat)
	}
	return tw.Flush()
}

func (c *client) users(w io.Writer, format, pool, state string) error {
	q := url.Values{}
	if pool != "" {
		q.Set("pool", pool)
	}
	if state != "" {
		q.Set("state", state)
	}
	var us []struct {
		User       string     `json:"user"`
		Pool       string     `json:"pool"`
		State      string     `json:"state"`
		Groups     []string   `json:"groups"`
		LastActive *time.Time `json:"last_active"`
		IdleSec    float64    `json:"idle_seconds"`
		Reason     string     `json:"reason"`
	}
	if err := c.do(http.MethodGet, "/api/v1/users?"+q.Encode(), &us); err != nil {
		return err
	}
	switch format {
	case "json":
		return writeIndented(w, us)
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"user", "pool", "state", "groups", "last_active", "idle_seconds", "reason"})
		for _, u := range us {
			la := ""
			if u.LastActive != nil {
				la = u.LastActive.UTC().Format(time.RFC3339)
			}
			_ = cw.Write([]string{u.User, u.Pool, u.State, strings.Join(u.Groups, " "), la, fmt.Sprint(int64(u.IdleSec)), u.Reason})
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tPOOL\tSTATE\tLAST ACTIVE\tIDLE\tGROUPS")
	for _, u := range us {
		la := "never seen"
		if u.LastActive != nil {
			la = u.LastActive.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.User, u.Pool, u.State, la, admin.HumanDuration(time.Duration(u.IdleSec)*time.Second), strings.Join(u.Groups, ","))
	}
	return tw.Flush()
}

func (c *client) audit(w io.Writer, format, since string) error {
	q := url.Values{}
	if since != "" {
		q.Set("since", since)
	}
	if format == "csv" || format == "json" {
		q.Set("format", format)
		resp, err := c.get("/api/v1/audit?" + q.Encode())
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(w, resp.Body)
		return err
	}
	var evs []struct {
		Time    time.Time `json:"time"`
		Action  string    `json:"action"`
		User    string    `json:"user"`
		Pool    string    `json:"pool"`
		Groups  []string  `json:"groups"`
		Reason  string    `json:"reason"`
		Trigger string    `json:"trigger"`
		Mode    string    `json:"mode"`
		Error   string    `json:"error"`
	}
	if err := c.do(http.MethodGet, "/api/v1/audit?"+q.Encode(), &evs); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTION\tUSER\tPOOL\tGROUPS\tREASON\tTRIGGER\tMODE")
	for _, e := range evs {
		reason := e.Reason
		if e.Error != "" {
			reason += " (error: " + e.Error + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format("2006-01-02 15:04:05"), e.Action, e.User, e.Pool,
			strings.Join(e.Groups, ","), reason, e.Trigger, e.Mode)
	}
	return tw.Flush()
}

func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
