package app

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/floatseat/floatseat/internal/config"
)

// testSecrets are the FLOATSEAT_* variables test configurations rely on.
var testSecrets = map[string]string{
	"FLOATSEAT_ADMIN_TOKEN":        "tok",
	"FLOATSEAT_APP_PASSWORD":       "svc-pw",
	"FLOATSEAT_LDAP_BIND_PASSWORD": "x",
}

// setTestSecrets puts testSecrets in the environment for the test: a
// reload re-reads the configuration file, and its secrets, from there.
func setTestSecrets(t *testing.T) {
	t.Helper()
	for k, v := range testSecrets {
		t.Setenv(k, v)
	}
}

func parseTestConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, _, errs := config.Parse([]byte(yaml), "", func(k string) string { return testSecrets[k] })
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return cfg
}

// startEmbedded runs a whole floatseat with the embedded store.
func startEmbedded(t *testing.T, extra string, opts ...Option) *App {
	t.Helper()
	return runApp(t, "listen: 127.0.0.1:0\nupstream: http://127.0.0.1:9\nadmin: {listen: 127.0.0.1:0}\n"+extra, opts...)
}

// runApp builds a floatseat from yaml, runs it, and stops it in cleanup.
func runApp(t *testing.T, yaml string, opts ...Option) *App {
	t.Helper()
	return runAppConfig(t, parseTestConfig(t, yaml), opts...)
}

// runAppConfig is runApp on a parsed configuration.
func runAppConfig(t *testing.T, cfg *config.Config, opts ...Option) *App {
	t.Helper()
	a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return a
}
