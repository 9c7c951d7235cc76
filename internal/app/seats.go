package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/floatseat/floatseat/internal/audit"
	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/directory"
	"github.com/floatseat/floatseat/internal/keeper"
	"github.com/floatseat/floatseat/internal/license"
	"github.com/floatseat/floatseat/internal/membership"
	"github.com/floatseat/floatseat/internal/reaper"
	"github.com/floatseat/floatseat/internal/store"
)

// seatParts are the seat engine of one floatseat: nil when no directory is
// configured (the proxy then only observes activity).
type seatParts struct {
	dir     directory.Directory
	members *membership.View
	keeper  *keeper.Keeper
	reaper  *reaper.Reaper
	poller  *license.Poller
	metrics *license.Metrics
}

// errNoBackend: a directory type whose backend this build cannot open.
var errNoBackend = errors.New("directory backend not available")

// buildSeats builds the seat engine: the directory, the one membership
// view, the keeper and the reaper over them, and the licence poller. Before
// traffic, it readies the directory and the keeper's view and reads the
// seat counts once.
func (a *App) buildSeats(auditLog *audit.Log) (*seatParts, error) {
	cfg := a.cfg()
	if cfg.Directory.Type == "" {
		a.log.Warn("no directory configured: floatseat records activity but manages no seats")
		return nil, nil
	}
	dir, immediate, err := a.seatDirectory(cfg)
	if err != nil {
		return nil, err
	}
	s := &seatParts{dir: dir, metrics: license.NewMetrics(a.reg), members: newMembers(cfg, dir, a.clock, a.log)}
	if s.keeper, err = a.newKeeper(cfg, s, immediate, auditLog); err != nil {
		return nil, err
	}
	if s.reaper, err = a.newReaper(cfg, s); err != nil {
		return nil, err
	}
	a.readySeats(cfg, s)
	s.poller = a.newPoller(cfg, s)
	// Like the keeper, read the seat counts once before taking traffic: a
	// grant without a licence report is refused, and the request then
	// reaches the app unlicensed.
	pctx, cancel := context.WithTimeout(context.Background(), cfg.App.Timeout)
	if err := s.poller.PollOnce(pctx); err != nil {
		a.log.Warn("first licence read failed; grants wait for the next one", "err", err)
	}
	cancel()
	return s, nil
}

// seatDirectory is WithDirectory's directory, or directory.type's backend,
// which the App then closes at the end.
func (a *App) seatDirectory(cfg *config.Config) (directory.Directory, bool, error) {
	if a.directory != nil {
		return a.directory, a.immediate, nil
	}
	dir, immediate, err := openDirectory(cfg, a.log, a.reg)
	if err != nil {
		return nil, false, fmt.Errorf("directory: %w", err)
	}
	a.cleanups.pushCloser(dir)
	return dir, immediate, nil
}

func (a *App) newKeeper(cfg *config.Config, s *seatParts, immediate bool, auditLog *audit.Log) (*keeper.Keeper, error) {
	var pools []keeper.Pool
	for _, p := range cfg.Pools {
		pools = append(pools, keeper.Pool{Name: p.Name, LicenseGroups: p.LicenseGroups, DefaultGroups: p.DefaultGroups, PoolGroups: p.PoolGroups})
	}
	return keeper.New(keeper.Options{
		Pools: pools, Dir: s.dir, Members: s.members, ReconcileBatch: cfg.Reaper.ReconcileBatch, Store: a.store, Audit: auditLog,
		Observe: cfg.Mode == config.ModeObserve, Immediate: immediate,
		SyncInterval: cfg.Directory.SyncInterval, VisibilityMargin: cfg.Directory.VisibilityMargin,
		GrantTimeout: cfg.Proxy.GrantTimeout, ConfirmWait: cfg.Proxy.SSOConfirmWait, Floor: cfg.SessionTimeout,
		Need: needOf(a.work, cfg.Proxy.ContextPath), ReaperInterval: cfg.Reaper.Interval, Virtual: a.store,
		Verifier: passwordVerifier(cfg, s.dir), ClaimLimits: claimLimits(cfg), Reserve: a.reserveOf,
		ParkingPrefix: cfg.Directory.ParkingPrefix, EndSessions: endSessions(cfg, a.log),
		Clock: a.clock, Log: a.log, Reg: a.reg,
	})
}

// reserveOf is a pool's reserve in the running configuration, which a
// reload replaces (the keeper bounds seat-page claims by it).
func (a *App) reserveOf(pool string) int {
	pools := a.cfg().Pools
	for i := range pools {
		if pools[i].Name == pool {
			return pools[i].Reserve
		}
	}
	return 0
}

func (a *App) newReaper(cfg *config.Config, s *seatParts) (*reaper.Reaper, error) {
	var pools []reaper.Pool
	for _, p := range cfg.Pools {
		pools = append(pools, reaper.Pool{Name: p.Name, LicenseGroups: p.LicenseGroups, Reserve: p.Reserve})
	}
	return reaper.New(reaper.Options{
		Pools: pools, Store: a.store, Members: s.members, Keeper: s.keeper, Replica: a.replica,
		Interval: cfg.Reaper.Interval, LockTTL: cfg.Reaper.LockTTL, HeartbeatMaxAge: cfg.Reaper.HeartbeatMaxAge,
		Floor: cfg.SessionTimeout, Ceiling: cfg.MaxIdle, MaxRevocations: cfg.Reaper.MaxRevocationsPerRun,
		Observe: cfg.Mode == config.ModeObserve, Virtual: a.store, Clock: a.clock, Log: a.log, Reg: a.reg,
		OnHeadroom: s.metrics.SetHeadroom,
	})
}

// readySeats prepares what the seat engine needs before traffic: in
// enforce mode the parking groups, and a clean slate of what observe mode
// simulated; then the keeper's view of revoked and seatless users.
func (a *App) readySeats(cfg *config.Config, s *seatParts) {
	observe := cfg.Mode == config.ModeObserve
	if !observe { // observe mode changes nothing in the directory
		pctx, cancel := context.WithTimeout(context.Background(), 2*cfg.Directory.Timeout)
		prepareParking(pctx, s.dir, cfg, a.log)
		cancel()
	}
	pctx, cancel := context.WithTimeout(context.Background(), 2*cfg.Directory.Timeout)
	defer cancel()
	if !observe {
		// Enforce mode starts clean: what observe mode simulated is gone.
		var names []string
		for _, p := range cfg.Pools {
			names = append(names, p.Name)
		}
		if err := a.store.ObserveClear(pctx, names); err != nil {
			a.log.Warn("cannot clear observe mode's virtual revoked set", "err", err)
		}
	}
	s.keeper.Prime(pctx)
}

// newPoller reads each pool's seat counts from its source (a fixed count
// over the membership view, a Jira application role, Confluence's licence)
// into Redis, at the shortest refresh interval of the pools.
func (a *App) newPoller(cfg *config.Config, s *seatParts) *license.Poller {
	sources := map[string]license.Source{}
	interval := time.Duration(0)
	for _, p := range cfg.Pools {
		if interval == 0 || p.RefreshInterval < interval {
			interval = p.RefreshInterval
		}
		switch {
		case p.Seats != nil:
			groups := p.LicenseGroups
			sources[p.Name] = license.Fixed{Seats: *p.Seats, Used: func(ctx context.Context) (int, error) {
				return s.members.Count(ctx, groups...)
			}}
		case p.ApplicationRole != "":
			sources[p.Name] = license.JiraRole{BaseURL: cfg.App.URL, User: cfg.App.User, Password: cfg.App.Password.Reveal(),
				Key: p.ApplicationRole, Timeout: cfg.App.Timeout}
		default:
			sources[p.Name] = license.Confluence{BaseURL: cfg.App.URL, User: cfg.App.User, Password: cfg.App.Password.Reveal(),
				Timeout: cfg.App.Timeout}
		}
	}
	return &license.Poller{
		Sources: sources, Interval: interval, Timeout: cfg.App.Timeout, Metrics: s.metrics, Logger: a.log,
		Clock: license.NowClock(a.clock),
		// at is when the request was sent (pending grants and revocations
		// it drops); the answer came no later than now (a returning user's
		// seat is given back without a free one only if their revocation
		// started after it).
		Sink: func(ctx context.Context, pool string, c license.Count, at time.Time) error {
			lc := store.LicenseCount{Seats: c.Seats, Unlimited: c.Unlimited, Used: c.Used, AnsweredAt: a.clock()}
			if err := a.store.SetLicense(ctx, pool, lc, at); err != nil {
				return err
			}
			seats, used, pending, unlimited, _, err := a.store.PoolState(ctx, pool)
			if err == nil && !unlimited {
				s.metrics.SetHeadroom(pool, seats-used-pending)
			}
			return nil
		},
	}
}

// passwordVerifier is the backend's own password check, when it has one
// (LDAP bind, Crowd /authentication) and proxy.password_check is on.
func passwordVerifier(cfg *config.Config, dir directory.Directory) directory.PasswordVerifier {
	if !cfg.Proxy.CheckPasswords() {
		return nil
	}
	v, _ := dir.(directory.PasswordVerifier)
	return v
}

// claimLimits are proxy.claims as the keeper takes them (also on reload:
// keeper.SetClaimLimits).
func claimLimits(cfg *config.Config) keeper.ClaimLimits {
	c := cfg.Proxy.Claims
	return keeper.ClaimLimits{UserBurst: c.UserBurst, UserInterval: c.UserInterval,
		AddressBurst: c.AddressBurst, AddressInterval: c.AddressInterval}
}

// newMembers is the one membership view of this floatseat, shared by the
// reaper, the keeper and the admin read model, with the one exclusion set
// (exclude.users, the service account app.user, members of exclude.groups).
func newMembers(cfg *config.Config, dir directory.Directory, clock func() time.Time, log *slog.Logger) *membership.View {
	return membership.ForConfig(cfg, dir, cfg.Directory.MembershipRefresh, clock, log)
}
