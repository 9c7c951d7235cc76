package arch

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/floatseat/floatseat/"

type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Deps         []string
}

// load lists every package of the module, with its imports (production and
// test) and, for the floatseat binary, its transitive dependencies.
func load(t *testing.T, args ...string) map[string]*pkg {
	t.Helper()
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	cmd := exec.Command("go", append([]string{"list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports,Deps"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v: %s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]*pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(p.ImportPath, mod)] = &p
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages; the rules below would check nothing", len(pkgs))
	}
	return pkgs
}

func short(path string) string { return strings.TrimPrefix(path, mod) }

// importers returns the packages importing a path with prefix, each with
// whether only its tests do.
func importers(pkgs map[string]*pkg, prefix string) map[string]bool {
	out := map[string]bool{} // package -> imported by production code
	for name, p := range pkgs {
		has := func(list []string) bool {
			return slices.ContainsFunc(list, func(s string) bool { return s == prefix || strings.HasPrefix(s, prefix+"/") })
		}
		switch {
		case has(p.Imports):
			out[name] = true
		case has(p.TestImports), has(p.XTestImports):
			out[name] = out[name] || false
		}
	}
	return out
}

// TestImportRules: the rooms of docs/architecture.md and what each may
// import. Each rule says why in its message.
func TestImportRules(t *testing.T) {
	pkgs := load(t, mod+"...")
	rules := []struct {
		imported string
		// allowed reports whether pkg may import it; prod is false when
		// only pkg's tests do.
		allowed func(pkg string, prod bool) bool
		why     string
	}{
		{"github.com/redis/go-redis/v9", func(p string, _ bool) bool {
			// testenv drives the servers it starts (Cluster slots,
			// Sentinel failover) and cannot use store: store's tests
			// import testenv.
			return p == "internal/store" || strings.HasPrefix(p, "internal/store/") || p == "internal/testenv"
		}, "only internal/store talks to Redis (tests use internal/store/storetest)"},
		{"github.com/alicebob/miniredis/v2", func(p string, prod bool) bool {
			return p == "internal/store" || p == "internal/store/storetest" || !prod
		}, "the embedded store is store.StartEmbedded; only tests start a miniredis themselves"},
		{"github.com/go-ldap/ldap/v3", func(p string, prod bool) bool {
			// Tests may seed a real slapd with it.
			return p == "internal/directory/ldapdir" || !prod
		}, "LDAP is internal/directory/ldapdir's alone"},
		{mod + "internal/directory/ldapdir", func(p string, prod bool) bool { return p == "internal/app" || !prod },
			"a directory backend is chosen in one place, internal/app's openDirectory"},
		{mod + "internal/directory/crowd", func(p string, prod bool) bool {
			return p == "internal/app" || strings.HasPrefix(p, "internal/directory/crowd") || !prod
		}, "a directory backend is chosen in one place, internal/app's openDirectory"},
		{mod + "internal/directory/appdir", func(p string, prod bool) bool { return p == "internal/app" || !prod },
			"a directory backend is chosen in one place, internal/app's openDirectory"},
		{mod + "internal/directory/crowd/crowdfake", func(_ string, prod bool) bool { return !prod },
			"crowdfake is a test helper"},
		{mod + "internal/store/storetest", func(_ string, prod bool) bool { return !prod },
			"storetest is a test helper"},
		{mod + "internal/app", func(p string, prod bool) bool { return p == "internal/cli" || !prod },
			"internal/app is wiring; only the command line starts it"},
		{mod + "internal/cli", func(p string, prod bool) bool { return strings.HasPrefix(p, "cmd/") || !prod },
			"internal/cli is the commands' own"},
	}
	for _, r := range rules {
		for p, prod := range importers(pkgs, r.imported) {
			if p == short(r.imported) || strings.HasPrefix(p, short(r.imported)+"/") && !strings.HasPrefix(short(r.imported), "github.com") {
				continue // a package and its own sub-packages
			}
			if !r.allowed(p, prod) {
				where := "its tests import"
				if prod {
					where = "imports"
				}
				t.Errorf("%s %s %s: %s", p, where, short(r.imported), r.why)
			}
		}
	}

	// Rooms that must stay small in what they know.
	ours := func(p *pkg, list []string) []string {
		var out []string
		for _, s := range list {
			if strings.HasPrefix(s, mod) {
				out = append(out, short(s))
			}
		}
		return out
	}
	onlyOurs := map[string][]string{
		// The policy is pure functions over state and a clock: it knows
		// no store, directory or config, so the reaper and replay share it.
		"internal/seats": {"internal/username"},
		// Leaves every room may use.
		"internal/username": {},
		"internal/rest":     {},
	}
	for name, allowed := range onlyOurs {
		p, ok := pkgs[name]
		if !ok {
			t.Errorf("package %s is gone: update this rule and docs/architecture.md", name)
			continue
		}
		for _, imp := range ours(p, p.Imports) {
			if !slices.Contains(allowed, imp) {
				t.Errorf("%s imports %s: it may import only %v of ours", name, imp, allowed)
			}
		}
	}
	// The request path declares the interfaces it needs and imports no
	// backend: who the user is and what is noise, nothing more.
	if p, ok := pkgs["proxy"]; ok {
		for _, imp := range ours(p, p.Imports) {
			if imp != "internal/identity" && imp != "internal/noise" && imp != "internal/poolwork" {
				t.Errorf("proxy imports %s: the request path imports no backend (it declares Seats, Activity, ... and app wires them)", imp)
			}
		}
	} else {
		t.Error("package proxy is gone: update this rule and docs/architecture.md")
	}
}

// TestBinaryLinksNoTestHelper: the floatseat binary carries no test
// scaffolding (real-server starters, fakes).
func TestBinaryLinksNoTestHelper(t *testing.T) {
	pkgs := load(t, "-deps", mod+"cmd/floatseat")
	for _, helper := range []string{"internal/testenv", "internal/store/storetest", "internal/directory/directorytest", "internal/directory/crowd/crowdfake", "testing"} {
		if _, ok := pkgs[helper]; ok {
			t.Errorf("cmd/floatseat links %s", helper)
		}
	}
	if _, ok := pkgs["internal/store"]; !ok {
		t.Fatal("cmd/floatseat does not link internal/store: go list -deps returned something else")
	}
}
