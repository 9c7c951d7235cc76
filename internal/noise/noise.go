// Package noise tells background polling from real work. Rules are data (a
// name, an optional method, a regexp on the path, an optional regexp on the
// query), shipped per product in defaults.yaml and tuned by admins in the
// configuration. Each rule counts its hits so admins can see what the filter
// does. Matching the common case, no rule, costs no allocation.
package noise

import (
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"
)

// Rule is one noise rule.
type Rule struct {
	Name   string `yaml:"name"`
	Method string `yaml:"method"` // empty or ANY: every method
	Path   string `yaml:"path"`   // Go regexp on the URL path (without the context path)
	Query  string `yaml:"query"`  // optional Go regexp on the raw query string
	Why    string `yaml:"why"`
}

// Config is what admins set (noise.* in the configuration).
type Config struct {
	Defaults bool
	Rules    []Rule
	Disable  []string
}

type shipped struct {
	Rule     `yaml:",inline"`
	Products []string `yaml:"products"`
	Default  *bool    `yaml:"default"`
}

//go:embed defaults.yaml
var defaultsYAML []byte

var defaults = func() []shipped {
	var f struct {
		Rules []shipped `yaml:"rules"`
	}
	if err := yaml.Unmarshal(defaultsYAML, &f); err != nil {
		panic("noise: defaults.yaml: " + err.Error())
	}
	return f.Rules
}()

// Defaults returns the shipped rules of product: on by default, and opt-in.
func Defaults(product string) (on, optIn []Rule) {
	for _, s := range defaults {
		for _, p := range s.Products {
			if p != product {
				continue
			}
			if s.Default == nil || *s.Default {
				on = append(on, s.Rule)
			} else {
				optIn = append(optIn, s.Rule)
			}
		}
	}
	return on, optIn
}

// compiled is one rule ready to match.
type compiled struct {
	rule   Rule
	method string         // "" = any
	prefix string         // literal every match must start with ("" = none)
	path   *regexp.Regexp // nil when prefix says it all
	query  *regexp.Regexp
	hits   *atomic.Uint64
}

// Set is an immutable, compiled rule set.
type Set struct {
	rules []compiled
}

// Build compiles the rules for product from cfg and reports every problem.
func Build(product string, cfg Config) (*Set, []error) {
	return build(product, cfg, func(string) *atomic.Uint64 { return new(atomic.Uint64) })
}

func build(product string, cfg Config, counter func(name string) *atomic.Uint64) (*Set, []error) {
	var errs []error
	on, optIn := Defaults(product)
	byName := map[string]int{}
	var rules []Rule
	if cfg.Defaults {
		for _, r := range on {
			byName[r.Name] = len(rules)
			rules = append(rules, r)
		}
	}
	shippedRule := func(name string) (Rule, bool) {
		for _, r := range append(append([]Rule{}, on...), optIn...) {
			if r.Name == name {
				return r, true
			}
		}
		return Rule{}, false
	}
	for _, name := range cfg.Disable {
		i, ok := byName[name]
		if !ok {
			errs = append(errs, fmt.Errorf("noise.disable: %q is not a default rule of %s", name, product))
			continue
		}
		rules[i].Name = "" // tombstone, dropped below
		delete(byName, name)
	}
	seen := map[string]bool{}
	for _, r := range cfg.Rules {
		if r.Name == "" {
			errs = append(errs, errors.New("noise rule with an empty name"))
			continue
		}
		if seen[r.Name] {
			errs = append(errs, fmt.Errorf("noise rule %s: duplicate name", r.Name))
			continue
		}
		seen[r.Name] = true
		if r.Path == "" {
			// A name alone switches on a shipped rule (opt-in ones too).
			s, ok := shippedRule(r.Name)
			if !ok {
				errs = append(errs, fmt.Errorf("noise rule %s: path is empty and no shipped rule has that name", r.Name))
				continue
			}
			r = s
		}
		if i, ok := byName[r.Name]; ok {
			rules[i] = r // a rule named like a default replaces it
			continue
		}
		byName[r.Name] = len(rules)
		rules = append(rules, r)
	}
	set := &Set{}
	for _, r := range rules {
		if r.Name == "" {
			continue
		}
		c, err := compile(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.hits = counter(r.Name)
		set.rules = append(set.rules, c)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return set, nil
}

var methods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
	"DELETE": true, "OPTIONS": true}

func compile(r Rule) (compiled, error) {
	c := compiled{rule: r}
	m := strings.ToUpper(r.Method)
	switch {
	case m == "" || m == "ANY":
	case methods[m]:
		c.method = m
	default:
		return c, fmt.Errorf("noise rule %s: method %q is not an HTTP method", r.Name, r.Method)
	}
	re, err := regexp.Compile(r.Path)
	if err != nil {
		return c, fmt.Errorf("noise rule %s: path: %w", r.Name, err)
	}
	c.path = re
	// An anchored pattern's literal prefix is a cheap test that rejects
	// almost every request before the regexp runs.
	if rest, ok := strings.CutPrefix(r.Path, "^"); ok {
		if tail, err := regexp.Compile(rest); err == nil {
			p, complete := tail.LiteralPrefix()
			c.prefix = p
			if complete {
				c.path = nil // prefix match is the whole test
			}
		}
	}
	if r.Query != "" {
		if c.query, err = regexp.Compile(r.Query); err != nil {
			return c, fmt.Errorf("noise rule %s: query: %w", r.Name, err)
		}
	}
	return c, nil
}

// Match reports the first rule that matches and counts the hit.
func (s *Set) Match(method, path, rawQuery string) (int, bool) {
	if i, ok := s.match(method, path, rawQuery); ok {
		s.rules[i].hits.Add(1)
		return i, true
	}
	return -1, false
}

// Test is Match without counting (for `noise test`).
func (s *Set) Test(method, path, rawQuery string) (int, bool) { return s.match(method, path, rawQuery) }

func (s *Set) match(method, path, rawQuery string) (int, bool) {
	for i := range s.rules {
		c := &s.rules[i]
		if c.method != "" && c.method != method {
			continue
		}
		if c.prefix != "" && !strings.HasPrefix(path, c.prefix) {
			continue
		}
		if c.path != nil && !c.path.MatchString(path) {
			continue
		}
		if c.query != nil && !c.query.MatchString(rawQuery) {
			continue
		}
		return i, true
	}
	return -1, false
}

// Rule returns rule i of the set.
func (s *Set) Rule(i int) Rule { return s.rules[i].rule }

// Rules returns the set's rules in match order.
func (s *Set) Rules() []Rule {
	out := make([]Rule, len(s.rules))
	for i, c := range s.rules {
		out[i] = c.rule
	}
	return out
}

// Explain says which rule a request matches, for `floatseat noise test`.
func Explain(s *Set, method, path string) string {
	p, q, _ := strings.Cut(path, "?")
	i, ok := s.Test(strings.ToUpper(method), p, q)
	if !ok {
		return "no rule: counts as activity"
	}
	r := s.rules[i].rule
	m := r.Method
	if m == "" {
		m = "ANY"
	}
	out := fmt.Sprintf("rule %q (%s %s", r.Name, m, r.Path)
	if r.Query != "" {
		out += " ?" + r.Query
	}
	out += "): background noise, not activity"
	if r.Why != "" {
		out += "\n  why: " + r.Why
	}
	return out
}

// Filter is the live rule set of a running proxy: reload swaps the set
// atomically, so no request ever sees a half-built one, and counters of a
// rule name carry over across reloads.
type Filter struct {
	set atomic.Pointer[Set]

	mu     sync.Mutex
	counts map[string]*atomic.Uint64
	desc   *prometheus.Desc
}

// NewFilter builds the first set and registers floatseat_noise_requests_total.
func NewFilter(product string, cfg Config, reg prometheus.Registerer) (*Filter, []error) {
	f := &Filter{
		counts: map[string]*atomic.Uint64{},
		desc: prometheus.NewDesc("floatseat_noise_requests_total",
			"Requests ignored as activity, by the noise rule that matched.", []string{"rule"}, nil),
	}
	if errs := f.Reload(product, cfg); len(errs) > 0 {
		return nil, errs
	}
	if reg != nil {
		if err := reg.Register(f); err != nil {
			return nil, []error{err}
		}
	}
	return f, nil
}

// Reload builds a new set; on errors the running one stays.
func (f *Filter) Reload(product string, cfg Config) []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, errs := build(product, cfg, func(name string) *atomic.Uint64 {
		c, ok := f.counts[name]
		if !ok {
			c = new(atomic.Uint64)
			f.counts[name] = c
		}
		return c
	})
	if len(errs) > 0 {
		return errs
	}
	f.set.Store(s)
	return nil
}

// Set returns the live set.
func (f *Filter) Set() *Set { return f.set.Load() }

// Match matches against the live set.
func (f *Filter) Match(method, path, rawQuery string) (int, bool) {
	return f.set.Load().Match(method, path, rawQuery)
}

// Describe implements prometheus.Collector.
func (f *Filter) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }

// Collect implements prometheus.Collector.
func (f *Filter) Collect(ch chan<- prometheus.Metric) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for name, c := range f.counts {
		ch <- prometheus.MustNewConstMetric(f.desc, prometheus.CounterValue, float64(c.Load()), name)
	}
}
