// Package arch holds no code. Its test enforces the import rules that
// docs/architecture.md states, so that a change which breaks one (a
// backend imported by the proxy, go-redis outside the store) fails CI
// instead of drifting quietly.
package arch
