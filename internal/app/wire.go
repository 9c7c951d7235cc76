package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floatseat/floatseat/internal/config"
	"github.com/floatseat/floatseat/internal/identity"
	"github.com/floatseat/floatseat/internal/noise"
	"github.com/floatseat/floatseat/internal/store"
)

// noiseConfig maps the configuration onto the noise package.
func noiseConfig(cfg *config.Config) noise.Config {
	rules := make([]noise.Rule, len(cfg.Noise.Rules))
	for i, r := range cfg.Noise.Rules {
		rules[i] = noise.Rule{Name: r.Name, Method: r.Method, Path: r.Path, Query: r.Query}
	}
	return noise.Config{Defaults: cfg.Noise.DefaultsEnabled(), Rules: rules, Disable: cfg.Noise.Disable}
}

// CheckComponents builds what config alone cannot judge (the noise rule
// set with its defaults) and returns every problem (floatseat check).
func CheckComponents(cfg *config.Config) []error {
	_, errs := BuildNoise(cfg)
	return errs
}

// BuildNoise builds the noise rule set cfg describes, defaults included,
// and returns every problem with it (floatseat check, noise test).
func BuildNoise(cfg *config.Config) (*noise.Set, []error) {
	return noise.Build(cfg.Product, noiseConfig(cfg))
}

// noiseFilter is the live rule set with its counters.
type noiseFilter struct {
	*noise.Filter
}

func newNoiseFilter(cfg *config.Config, reg prometheus.Registerer) (*noiseFilter, error) {
	f, errs := noise.NewFilter(cfg.Product, noiseConfig(cfg), reg)
	if len(errs) > 0 {
		return nil, fmt.Errorf("noise rules: %v", errs)
	}
	return &noiseFilter{f}, nil
}

func (n *noiseFilter) reload(cfg *config.Config) error {
	if errs := n.Reload(cfg.Product, noiseConfig(cfg)); len(errs) > 0 {
		return fmt.Errorf("noise rules: %v", errs)
	}
	return nil
}

func (n *noiseFilter) count() int { return len(n.Set().Rules()) }

// Explain says which rule matches a request, if any.
func (n *noiseFilter) Explain(method, path string) string {
	return noise.Explain(n.Set(), method, path)
}

// who adapts identity.Identifier to the proxy.
type who struct {
	*identity.Identifier
	resolver *identity.Resolver
	hasher   *identity.Hasher
}

func newWho(cfg *config.Config, st *store.Store, reg prometheus.Registerer, log *slog.Logger, clock func() time.Time) (*who, error) {
	key := cfg.IdentityKey() // identity.key_file, or derived from the shared secrets
	if len(key) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*cfg.Redis.Timeout)
		k, err := st.IdentityKey(ctx)
		cancel()
		if err != nil {
			// Without Redis there is nothing to share yet: a per-process key
			// keeps this replica working; mappings are relearned later.
			log.Warn("cannot read the shared identity key; using a per-process key until restart", "err", err)
			k = make([]byte, 32)
			_, _ = rand.Read(k)
		}
		key = k
	}
	hasher := identity.NewHasher(key)
	r := identity.NewResolver(hasher, st, identity.ResolverOptions{
		CacheSize:     cfg.Identity.CacheSize,
		SessionTTL:    cfg.Identity.SessionTTL,
		RememberMeTTL: cfg.Identity.RememberMeTTL,
		TokenTTL:      cfg.Identity.TokenTTL,
		LookupTimeout: cfg.Identity.LookupTimeout,
		Clock:         clock,
	}, reg, log)
	return &who{
		Identifier: &identity.Identifier{Product: cfg.Product, ContextPath: cfg.Proxy.ContextPath, Resolver: r},
		resolver:   r,
		hasher:     hasher,
	}, nil
}

func (w *who) Run(ctx context.Context) error { return w.resolver.Run(ctx) }
