package config

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Reloadable are the keys a reload applies to a running floatseat (SIGHUP,
// POST /api/v1/reload). Every other key needs a restart. A key ending in
// ".*" covers everything under it.
var reloadable = []string{
	"noise.*",
	"exclude.*",
	"pools[].reserve",
	"session_timeout",
	"max_idle",
	"proxy.claims.*",
}

// ReloadableKeys lists the keys a reload applies (for docs and messages).
func ReloadableKeys() []string { return append([]string(nil), reloadable...) }

// Changes compares a running configuration with a new one and returns the
// keys that differ, split into those a reload can apply and those that
// need a restart. Pools are compared by position: adding, removing or
// reordering pools needs a restart. A default derived from another key
// (identity.session_ttl from session_timeout), set in neither file, is not
// a change of its own: it keeps its running value until a restart.
func Changes(old, cur *Config) (reload, restart []string) {
	var diff []string
	diffValue(reflect.ValueOf(old).Elem(), reflect.ValueOf(cur).Elem(), "", &diff)
	for _, k := range diff {
		if old.set != nil && cur.set != nil && !old.setUnder(k) && !cur.setUnder(k) {
			continue
		}
		if isReloadable(k) {
			reload = append(reload, k)
		} else {
			restart = append(restart, k)
		}
	}
	return reload, restart
}

// Reloaded is what a reload puts in force: the restart-only keys of the
// running configuration with the reloadable keys of the file, as a new
// copy (a published configuration is never edited in place). It refuses
// the whole file, naming the keys, when the file changes a key that needs
// a restart; changed lists the reloadable keys that differ.
func Reloaded(running, file *Config) (next *Config, changed []string, err error) {
	changed, restart := Changes(running, file)
	if len(restart) > 0 {
		return nil, nil, fmt.Errorf("reload refused, nothing changed: %s need a restart (a reload applies %s)",
			strings.Join(restart, ", "), strings.Join(reloadable, ", "))
	}
	n := *running
	n.Noise, n.Exclude = file.Noise, file.Exclude
	n.SessionTimeout, n.MaxIdle = file.SessionTimeout, file.MaxIdle
	n.Proxy.Claims = file.Proxy.Claims
	n.Pools = slices.Clone(running.Pools)
	for i := range file.Pools {
		n.Pools[i].Reserve = file.Pools[i].Reserve
	}
	return &n, changed, nil
}

var index = regexp.MustCompile(`\[\d+\]`)

func isReloadable(key string) bool {
	k := index.ReplaceAllString(key, "[]")
	for _, r := range reloadable {
		if p, ok := strings.CutSuffix(r, ".*"); ok {
			if k == p || strings.HasPrefix(k, p+".") || strings.HasPrefix(k, p+"[") {
				return true
			}
		} else if k == r {
			return true
		}
	}
	return false
}

// diffValue appends the YAML key of every leaf where a and b differ.
func diffValue(a, b reflect.Value, key string, out *[]string) {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				*out = append(*out, key)
			}
			return
		}
		diffValue(a.Elem(), b.Elem(), key, out)
	case reflect.Struct:
		t := a.Type()
		for i := 0; i < t.NumField(); i++ {
			tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			k := tag
			if key != "" {
				k = key + "." + tag
			}
			diffValue(a.Field(i), b.Field(i), k, out)
		}
	case reflect.Slice:
		if a.Type().Elem().Kind() == reflect.Struct {
			if a.Len() != b.Len() {
				*out = append(*out, key)
				return
			}
			for i := 0; i < a.Len(); i++ {
				diffValue(a.Index(i), b.Index(i), key+"["+strconv.Itoa(i)+"]", out)
			}
			return
		}
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, key)
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, key)
		}
	}
}

// setUnder reports whether the file set key, a key under it or above it.
func (c *Config) setUnder(key string) bool {
	if c.set[key] {
		return true
	}
	for k := range c.set {
		if strings.HasPrefix(k, key+".") || strings.HasPrefix(k, key+"[") || strings.HasPrefix(key, k+".") {
			return true
		}
	}
	return false
}
