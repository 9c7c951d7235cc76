// Package poolwork says which pools a request is the work of (DESIGN
// §2.11). A Jira with Jira Software and Jira Service Management sells two
// licences; an agent seat is needed for queues, SLA views, reports and for
// editing or transitioning service-project issues, not for viewing them
// (REFERENCE §11). Each pool names its own work: regexps on the path, and
// project types whose project keys are learned from the app. A request that
// is no pool's own work belongs to the product's main pool.
//
// Pools are bits of a uint64 in configuration order. Classifying a request
// costs a few regexp matches and one map read, and allocates nothing.
package poolwork

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// MaxPools is how many pools fit in a mask.
const MaxPools = 64

// Pool is one pool's rules.
type Pool struct {
	Name string
	// Paths are regexps on the request path (context path removed): a
	// request matching one is this pool's work and needs its seat.
	Paths []string
	// ProjectTypes are Jira project types (service_desk, software,
	// business): a change to an issue of such a project needs this pool's
	// seat; viewing one counts as this pool's activity too.
	ProjectTypes []string
	// Main marks the product's main pool (default: the first one).
	Main bool
}

type pool struct {
	name  string
	bit   uint64
	paths []*regexp.Regexp
	types []string
	hits  []prometheus.Counter // per path rule, then one for project issues
}

// Rules classifies requests; safe for concurrent use.
type Rules struct {
	pools    []pool
	main     uint64
	mainHits prometheus.Counter
	typed    bool
	// projects: upper-case project key → bits of the pools whose project
	// types include the project's type.
	projects atomic.Pointer[map[string]uint64]
}

// New compiles the pools' rules. reg may be nil.
func New(pools []Pool, reg prometheus.Registerer) (*Rules, error) {
	if len(pools) == 0 || len(pools) > MaxPools {
		return nil, fmt.Errorf("poolwork: %d pools; want 1 to %d", len(pools), MaxPools)
	}
	hits := promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Namespace: "floatseat", Name: "pool_work_requests_total",
		Help: "Requests counted as a pool's own work, by pool and the rule that matched (a path regexp, project-issue, or main for everything else).",
	}, []string{"pool", "rule"})
	r := &Rules{}
	mainIdx := 0
	for i, p := range pools {
		if p.Main {
			mainIdx = i
			break
		}
	}
	for i, p := range pools {
		cp := pool{name: p.Name, bit: 1 << uint(i)}
		for _, s := range p.Paths {
			re, err := regexp.Compile(s)
			if err != nil {
				return nil, fmt.Errorf("pool %s: activity path %q: %w", p.Name, s, err)
			}
			cp.paths = append(cp.paths, re)
			cp.hits = append(cp.hits, hits.WithLabelValues(p.Name, s))
		}
		for _, t := range p.ProjectTypes {
			cp.types = append(cp.types, strings.ToLower(t))
			r.typed = true
		}
		cp.hits = append(cp.hits, hits.WithLabelValues(p.Name, "project-issue"))
		r.pools = append(r.pools, cp)
	}
	r.main = r.pools[mainIdx].bit
	r.mainHits = hits.WithLabelValues(pools[mainIdx].Name, "main")
	empty := map[string]uint64{}
	r.projects.Store(&empty)
	return r, nil
}

// Main is the main pool's bit.
func (r *Rules) Main() uint64 { return r.main }

// All is every pool's bit.
func (r *Rules) All() uint64 {
	if len(r.pools) == MaxPools {
		return ^uint64(0)
	}
	return 1<<uint(len(r.pools)) - 1
}

// Typed reports whether any pool has project types (so project keys need
// to be learned from the app).
func (r *Rules) Typed() bool { return r.typed }

// Names returns the names of the pools in mask, in configuration order.
func (r *Rules) Names(mask uint64) []string {
	var out []string
	for _, p := range r.pools {
		if mask&p.bit != 0 {
			out = append(out, p.name)
		}
	}
	return out
}

// Bit is a pool's bit, 0 for an unknown name.
func (r *Rules) Bit(name string) uint64 {
	for _, p := range r.pools {
		if p.name == name {
			return p.bit
		}
	}
	return 0
}

// SetProjects replaces the known projects: key → projectTypeKey, as
// GET /rest/api/2/project reports them.
func (r *Rules) SetProjects(types map[string]string) {
	m := make(map[string]uint64, len(types))
	for key, typ := range types {
		typ = strings.ToLower(typ)
		var bits uint64
		for _, p := range r.pools {
			for _, t := range p.types {
				if t == typ {
					bits |= p.bit
				}
			}
		}
		if bits != 0 {
			m[strings.ToUpper(key)] = bits
		}
	}
	r.projects.Store(&m)
}

// ProjectTypes reads every project's key and type from the app (Jira's
// /rest/api/2/project; license.JiraProjects is one).
type ProjectTypes interface {
	Types(ctx context.Context) (map[string]string, error)
}

// RefreshProjects keeps the project keys of typed pools current: read now,
// then every interval, until ctx ends. A failed read keeps the last good
// list (with none yet, issue pages count for the main pool).
func (r *Rules) RefreshProjects(ctx context.Context, src ProjectTypes, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if types, err := src.Types(ctx); err != nil {
			log.Warn("reading project types failed; keeping the last list", "err", err)
		} else {
			r.SetProjects(types)
			log.Debug("project types read", "projects", len(types), "typed", r.Projects())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Projects is how many known projects belong to a typed pool.
func (r *Rules) Projects() int { return len(*r.projects.Load()) }

// classify returns the pools whose own work the request is (path rules,
// changes to their projects' issues) and the pools whose projects' issue it
// only reads. count says whether to count the matching rule.
func (r *Rules) classify(method, path string, count bool) (own, views uint64) {
	for i := range r.pools {
		p := &r.pools[i]
		for j, re := range p.paths {
			if re.MatchString(path) {
				own |= p.bit
				if count {
					p.hits[j].Inc()
				}
				break
			}
		}
	}
	if own != 0 || !r.typed {
		return own, 0
	}
	key, ok := issueProject(path)
	if !ok {
		return 0, 0
	}
	bits := (*r.projects.Load())[key]
	if bits == 0 {
		return 0, 0
	}
	if isChange(method, path) {
		if count {
			r.countProject(bits)
		}
		return bits, 0
	}
	return 0, bits
}

func (r *Rules) countProject(bits uint64) {
	for i := range r.pools {
		if bits&r.pools[i].bit != 0 {
			r.pools[i].hits[len(r.pools[i].hits)-1].Inc()
		}
	}
}

// Activity is the pools a real (non-noise) request counts as activity for:
// its own pools, or else the main pool, plus the pools whose project's
// issue it views (so an agent reading tickets keeps the agent seat, and a
// collaborator's views never need one: a pool is only ever granted by Need).
func (r *Rules) Activity(method, path string) uint64 {
	own, views := r.classify(method, path, true)
	if own != 0 {
		return own
	}
	r.mainHits.Inc()
	return r.main | views
}

// Need is the pools a request needs a seat in: its own pools, or else the
// main pool.
func (r *Rules) Need(method, path string) uint64 {
	own, _ := r.classify(method, path, false)
	if own != 0 {
		return own
	}
	return r.main
}

// issueProject finds an issue key (PROJ-123) among the path's segments and
// returns its project key.
func issueProject(path string) (string, bool) {
	for path != "" {
		var seg string
		i := strings.IndexByte(path, '/')
		if i < 0 {
			seg, path = path, ""
		} else {
			seg, path = path[:i], path[i+1:]
		}
		if key, ok := issueKey(seg); ok {
			return key, true
		}
	}
	return "", false
}

// issueKey reports whether seg is KEY-N with a Jira project key (a letter,
// then letters, digits or underscores; Jira keys are upper case).
func issueKey(seg string) (string, bool) {
	dash := strings.LastIndexByte(seg, '-')
	if dash < 1 || dash == len(seg)-1 {
		return "", false
	}
	for i := dash + 1; i < len(seg); i++ {
		if seg[i] < '0' || seg[i] > '9' {
			return "", false
		}
	}
	key := seg[:dash]
	if key[0] < 'A' || key[0] > 'Z' {
		return "", false
	}
	for i := 1; i < len(key); i++ {
		c := key[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return "", false
		}
	}
	return key, true
}

// isChange reports a request that changes an issue: any method but a read,
// except comments, which a collaborator may add without an agent seat
// (REFERENCE §11).
func isChange(method, path string) bool {
	switch method {
	case "GET", "HEAD", "OPTIONS":
		return false
	}
	return !strings.Contains(path, "/comment")
}

// PortalPrefix is where JSM customers work; they need no licence.
const PortalPrefix = "/servicedesk/customer/"

// IsPortal reports a JSM customer portal request (portal login included):
// it never takes, needs or keeps a seat (DESIGN §2.11).
func IsPortal(path string) bool {
	return strings.HasPrefix(path, PortalPrefix) || path == "/servicedesk/customer"
}

// JSMPaths returns the default activity paths of a JSM agent pool: the
// agent-only routes of REFERENCE §11. Unconfirmed in detail: admins adjust
// them in configuration, guided by floatseat_pool_work_requests_total.
func JSMPaths() []string {
	return []string{
		`^/projects/[^/]+/queues(/|$)`,
		`^/projects/[^/]+/reports(/|$)`,
		`^/servicedesk/agent/`,
		`^/rest/servicedesk/1/servicedesk/`,
		`^/jira/servicedesk/projects/[^/]+/(queues|reports)(/|$)`,
	}
}
