# floatseat — `make help` lists the targets.
GO        ?= go
BIN       := bin/floatseat
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/floatseat/floatseat/internal/app.Version=$(VERSION)
PKGS      := ./...

.DEFAULT_GOAL := help

.PHONY: help build test test-short bench demo lint tidy clean deps

help: ## Show this help.
	@awk 'BEGIN{FS=":.*## "} /^[a-z-]+:.*## /{printf "  %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build bin/floatseat.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/floatseat

deps: ## Install redis-server, slapd, nginx and chromium from Debian packages when missing.
	./scripts/install-deps.sh redis-server slapd nginx chromium

test: deps ## Everything CI runs: vet, unit, integration (real redis/slapd/nginx), fuzz corpora, race detector.
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 9m $(PKGS)

test-short: ## Unit tests only (no services).
	$(GO) test -short -race -count=1 $(PKGS)

bench: build ## The chain users run (nginx → floatseat → app vs nginx → app, real Redis), CPU per request, scale figures, Go benchmarks.
	./scripts/install-deps.sh redis-server nginx wrk
	$(GO) test -run '^$$' -bench . -benchmem ./proxy ./internal/activity ./internal/noise ./internal/identity
	$(GO) test -run '^$$' -bench . -benchmem ./internal/accesslog
	$(GO) run ./cmd/floatseat-replay-bench -floatseat $(BIN)
	@# Keep this step last: it ends with the two summary lines scripts read.
	$(GO) run ./cmd/floatseat-bench -floatseat $(BIN)

demo: build ## Run the whole system on this machine: embedded Redis, a Jira simulator, floatseat.
	./$(BIN) demo

lint: ## gofmt, go vet, staticcheck when installed.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)
	@if command -v staticcheck >/dev/null; then staticcheck $(PKGS); else echo "staticcheck not installed: skipped"; fi

tidy: ## go mod tidy.
	$(GO) mod tidy

clean: ## Remove build output.
	rm -rf bin dist
