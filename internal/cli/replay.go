package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/floatseat/floatseat/internal/accesslog"
	"github.com/floatseat/floatseat/internal/app"
	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/membership"
	"github.com/floatseat/floatseat/internal/replay"
)

const replayUsage = `usage: floatseat replay --config FILE [--log-format auto|jira|confluence|confluence-docker|nginx]
       [--from TIME] [--to TIME] [--seats N[,N…]] [--format table|csv|json|html] [--directory] FILE…   ('-' is stdin)`

// cmdReplay is `floatseat replay`: the configured policy over access logs.
func cmdReplay(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fl, ok := parseReplayFlags(args, stderr)
	if !ok {
		return 2
	}
	cfg := loadConfig(fl.config, stderr)
	if cfg == nil {
		return 1
	}
	opt, err := replayOptions(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "floatseat replay:", err)
		return 1
	}
	opt.From, opt.To, opt.Seats = fl.from, fl.to, fl.seats
	if fl.directory {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		member, excluded, err := app.ReplayMembership(ctx, cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
		cancel()
		if err != nil {
			fmt.Fprintln(stderr, "floatseat replay: --directory:", err)
			return 1
		}
		opt.Member, opt.Excluded = member, excluded
	}
	res, err := replaySized(opt, fl.files, fl.logFormat, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "floatseat replay:", err)
		return 1
	}
	if err := fl.write(stdout, res); err != nil {
		fmt.Fprintln(stderr, "floatseat replay:", err)
		return 1
	}
	for _, f := range res.Files {
		if f.Format == "auto" && f.Lines > 0 {
			fmt.Fprintf(stderr, "floatseat replay: %s: no line in a known format (give --log-format?)\n", f.Name)
		}
	}
	return 0
}

// replayFlags are `floatseat replay`'s arguments, checked.
type replayFlags struct {
	config    string
	files     []string
	logFormat accesslog.Format
	write     func(io.Writer, *replay.Result) error
	seats     []int
	from, to  time.Time
	directory bool
}

// parseReplayFlags reads the arguments; a problem is told on stderr and
// ok is false (exit status 2).
func parseReplayFlags(args []string, stderr io.Writer) (fl replayFlags, ok bool) {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, replayUsage); fs.PrintDefaults() }
	path := fs.String("config", "", "configuration file (YAML)")
	logFormat := fs.String("log-format", "auto", "log format: auto (per file), jira, confluence, confluence-docker, nginx")
	fromS := fs.String("from", "", "replay from this time (RFC 3339, or YYYY-MM-DD[THH:MM] in this machine's zone)")
	toS := fs.String("to", "", "replay up to this time (exclusive)")
	seatsS := fs.String("seats", "", "seat counts to replay at, comma-separated (the first is the detailed one); default: the pool's seats and a sweep around the peaks")
	format := fs.String("format", "table", "output: table, csv, json or html")
	useDir := fs.Bool("directory", false, "read the pools' members and exclude.groups from the configured directory (read-only); without it every named user is a member of the pools whose work they did")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return fl, false
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "floatseat replay: no log files (give '-' for stdin)")
		fmt.Fprintln(stderr, replayUsage)
		return fl, false
	}
	fl.config, fl.files, fl.directory = *path, files, *useDir
	if fl.logFormat, err = accesslog.ParseFormat(*logFormat); err != nil {
		fmt.Fprintln(stderr, "floatseat replay: --log-format:", err)
		return fl, false
	}
	if fl.write, ok = map[string]func(io.Writer, *replay.Result) error{
		"table": replay.WriteTable, "csv": replay.WriteCSV, "json": replay.WriteJSON, "html": replay.WriteHTML,
	}[*format]; !ok {
		fmt.Fprintf(stderr, "floatseat replay: --format %q: want table, csv, json or html\n", *format)
		return fl, false
	}
	if fl.seats, err = parseSeatCounts(*seatsS); err != nil {
		fmt.Fprintln(stderr, "floatseat replay: --seats:", err)
		return fl, false
	}
	from, err1 := parseWhen(*fromS)
	to, err2 := parseWhen(*toS)
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintln(stderr, "floatseat replay:", err)
		return fl, false
	}
	fl.from, fl.to = from, to
	return fl, true
}

// parseSeatCounts reads --seats: positive numbers, comma-separated.
func parseSeatCounts(list string) ([]int, error) {
	var counts []int
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", s)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// replaySized replays the files. Without --seats (and unless a file is
// stdin, which cannot be read twice) it sizes the pools: a first pass
// finds what the policy holds with no limit, a second sweeps seat counts
// around the peaks the first found.
func replaySized(opt replay.Options, files []string, lf accesslog.Format, stdin io.Reader) (*replay.Result, error) {
	stdinUsed := false
	for _, f := range files {
		stdinUsed = stdinUsed || f == "-"
	}
	sweep := len(opt.Seats) == 0 && !stdinUsed
	if sweep {
		for i := range opt.Pools {
			opt.Pools[i].Sweep = []int{0} // what the policy holds with no limit
		}
	}
	res, err := replayFiles(opt, files, lf, stdin)
	if err == nil && sweep {
		// Second pass: the sizing sweep around the peaks the first found.
		for i := range opt.Pools {
			opt.Pools[i].Sweep = replay.SweepAround(res.Pools[i])
		}
		res, err = replayFiles(opt, files, lf, stdin)
	}
	return res, err
}

// replayOptions maps the configuration onto a replay: the window, the
// reaper's rails, the pools with their reserves and activity rules, the
// noise rules and exclude.users. Without a directory a named user is a
// member of each pool whose work they did.
func replayOptions(cfg *config.Config) (replay.Options, error) {
	set, errs := app.BuildNoise(cfg)
	if len(errs) > 0 {
		return replay.Options{}, fmt.Errorf("noise rules: %v", errors.Join(errs...))
	}
	// The reaper's own exclusion set, as far as it needs no directory:
	// exclude.users and the service account app.user.
	excluded := membership.Exclusions{Users: cfg.Exclude.Users, ServiceAccount: cfg.App.User}.Fixed()
	work, err := app.PoolWork(cfg)
	if err != nil {
		return replay.Options{}, fmt.Errorf("pools' activity rules: %w", err)
	}
	opt := replay.Options{Work: work, Floor: cfg.SessionTimeout, Ceiling: cfg.MaxIdle, Interval: cfg.Reaper.Interval,
		MaxRevocations: cfg.Reaper.MaxRevocationsPerRun, Noise: set, ContextPath: cfg.Proxy.ContextPath,
		Excluded: func(u string) bool { return excluded[u] }}
	for _, p := range cfg.Pools {
		n := 0
		if p.Seats != nil {
			n = *p.Seats
		}
		opt.Pools = append(opt.Pools, replay.Pool{Name: p.Name, Seats: n, Reserve: p.Reserve})
	}
	return opt, nil
}

func replayFiles(opt replay.Options, files []string, f accesslog.Format, stdin io.Reader) (*replay.Result, error) {
	var inputs []replay.Input
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			_ = c.Close()
		}
	}()
	for _, name := range files {
		rc, err := accesslog.Open(name, stdin)
		if err != nil {
			return nil, err
		}
		closers = append(closers, rc)
		inputs = append(inputs, replay.Input{Name: name, R: rc, Format: f})
	}
	return replay.Run(opt, inputs)
}

// parseInterleaved parses flags given before, between or after the
// positional arguments, which it returns.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseWhen reads --from/--to: RFC 3339, or a date and time without a zone
// in this machine's zone; empty is no bound.
func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339 or YYYY-MM-DD[THH:MM]", s)
}

// replayCommand adapts cmdReplay to the command table (stdin is the
// process's).
func replayCommand(args []string, stdout, stderr io.Writer) int {
	return cmdReplay(args, os.Stdin, stdout, stderr)
}
