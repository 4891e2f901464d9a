# buildchain: `make run` starts a local 4-authority network, `make test` runs every test.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

GO      ?= go
BINDIR  ?= build
BINARY  := $(BINDIR)/buildchaind
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/cosmos/cosmos-sdk/version.Name=buildchain \
           -X github.com/cosmos/cosmos-sdk/version.AppName=buildchaind \
           -X github.com/cosmos/cosmos-sdk/version.Version=$(VERSION) \
           -X github.com/cosmos/cosmos-sdk/version.Commit=$(COMMIT)

# Unit and integration tests run in parallel; the end-to-end packages start real
# multi-process networks and run alone (-p 1): tests/e2e, and tests/chaos, whose TestChaos runs one
# cycle of perturbations there (make chaos: CHAOS_DURATION of them; docs/reliability.md has its cost).
E2E_PKGS   := ./tests/e2e/... ./tests/chaos/...
UNIT_PKGS   = $(shell $(GO) list ./... | grep -v -e '/tests/e2e' -e '/tests/chaos')
TEST_FLAGS ?= -count=1
UNIT_TIMEOUT ?= 40m
E2E_TIMEOUT  ?= 60m

LOCALNET := scripts/localnet.sh

.PHONY: all build install run stop status test test-unit test-fuzz test-e2e bench proto-gen proto-check lint deps clients-deps clean help flaky fuzz fuzz-short crashloop selfhost chaos

all: build

help:
	@echo "make run       install deps, build, start a local network (4 authorities, 3 builders) and publish hello"
	@echo "make stop      stop it; make status: heights and peers"
	@echo "make test      install dependencies, then run every test"
	@echo "make build     build $(BINARY);  make install: into GOPATH/bin"
	@echo "make bench     run the benchmarks (figures as ratios against baselines)"
	@echo "make proto-gen regenerate Go code from proto/ (offline); make proto-check: fail if stale"
	@echo "make lint      gofmt + go vet;  make deps: Debian packages the tests need"
	@echo "make chaos     4 authorities + full node + 3 builders in network namespaces under load and faults, CHAOS_DURATION (30m)"
	@echo "make flaky     run the p2p, sidecar and e2e tests FLAKY_RUNS times (default 10), print failures per package"
	@echo "make fuzz      run every Go fuzz target FUZZTIME each (default 60s; make fuzz-short: 10s each; make test-fuzz, in make test: 3s each)"
	@echo "make crashloop kill -9 a store (add, pin, GC), a fetch, a sidecar state writer and a chain CRASHLOOP_KILLS times each (default 50)"

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BINARY) ./cmd/buildchaind

install:
	$(GO) install -ldflags '$(LDFLAGS)' ./cmd/buildchaind

# The localnet script embeds its default configuration (4 authorities, ports 26600+,
# chain id buildchain-1, funded test accounts); see the header of scripts/localnet.sh.
# run: a 4-authority network with 3 build validators (their sidecars as processes), then, as a
# user, publish examples/hello and wait until the chain verifies it (scripts/localnet.sh demo).
# A second `make run` leaves the running network alone and only repeats the (idempotent) demo.
# run does its own set-up (deps: the Debian packages, as root), so it is the first command on a
# fresh machine; as another user deps prints the one command to run as root.
run: deps build
	@if $(LOCALNET) status >/dev/null 2>&1 && $(LOCALNET) status | grep running >/dev/null; then \
		echo "localnet already running:"; $(LOCALNET) status; \
	else \
		BUILDCHAIND=$(CURDIR)/$(BINARY) $(LOCALNET) start; \
	fi
	@echo
	@BUILDCHAIND=$(CURDIR)/$(BINARY) $(LOCALNET) demo

stop:
	$(LOCALNET) stop

status:
	$(LOCALNET) status

deps:
	scripts/deps.sh

# The CosmJS client test's npm packages, pinned by tests/clients/package-lock.json; npm ci
# runs again only when the lock file changed.
clients-deps: deps
	@if [ tests/clients/package-lock.json -nt tests/clients/node_modules/.package-lock.json ]; then \
		cd tests/clients && npm ci --no-audit --no-fund; \
	fi

# Every suite runs even if one fails, so one CI run shows every failure.
test: deps clients-deps
	@rc=0; $(MAKE) --no-print-directory test-unit || rc=1; \
	$(MAKE) --no-print-directory test-fuzz || rc=1; \
	$(MAKE) --no-print-directory test-e2e || rc=1; exit $$rc

test-unit:
	$(GO) test $(TEST_FLAGS) -timeout $(UNIT_TIMEOUT) $(UNIT_PKGS)

test-e2e:
	$(GO) test $(TEST_FLAGS) -p 1 -timeout $(E2E_TIMEOUT) $(E2E_PKGS)

# Go benchmarks (each prints its baseline ratio) and the benchmark programs under bench/.
bench:
	$(GO) test -run '^$$' -bench . $(UNIT_PKGS)
	@for d in bench/*/; do \
		if grep -qs '^package main' $$d*.go; then echo "== $$d"; $(GO) run ./$$d; fi; \
	done

# buildchaind built with the go toolchain in the sandbox, verified by three builders on a local
# network, compared with a plain go build -trimpath (not in make test: four cold builds of
# buildchaind, one by the publisher and three by the builders at once). First pass: 6706 s at load
# 13-16 on 2 cores (claim VALID after 3 rounds, 58 min; sha256 equal to the plain build).
selfhost: deps build
	scripts/selfhost.sh

# The rust toolchain and `buildchaind cargo build` (node/cargobuild, docs/cargo.md): make test runs
# a small crate (TestCargoBuildSmall); these are the long ones, tens of minutes on a loaded machine:
# toolchain imports, cold builds of examples/rust-cli, and on a localnet (tests/e2e) the small
# crate's --publish (TestCargoBuildPublish, about 5 min) and examples/rust-cli's, 24 units rebuilt
# by two builders and VALID, then substituted by a second developer (TestCargoRustCLIValid,
# 493-753 s at loads of 11-17 on 2 cores). test-cargo-e2e runs only the localnet ones.
.PHONY: test-cargo test-cargo-e2e
test-cargo: deps
	BUILDCHAIN_TEST_CARGO=1 $(GO) test -count=1 -v -timeout 60m ./node/toolchain/rusttoolchain/ ./node/cargobuild/
	$(MAKE) --no-print-directory test-cargo-e2e
test-cargo-e2e: deps
	E2E_CARGO=1 $(GO) test -count=1 -v -timeout 90m -run '^TestCargo(BuildPublish|RustCLIValid)$$' ./tests/e2e/

# `buildchaind go build --publish` against a real localnet (tests/e2e TestGoBuildPublish): a small
# module with a vendored module is built step by step, every step claimed, rebuilt by two
# builders and VALID, then substituted step by step by a second developer's fresh store. Opt-in
# (E2E_GOBUILD=1): about 70 steps built twice (publisher, builders), minutes, past make test's budget.
.PHONY: test-gobuild
test-gobuild: deps
	E2E_GOBUILD=1 $(GO) test -count=1 -v -timeout 60m -run '^TestGoBuildPublish$$' ./tests/e2e

proto-gen:
	scripts/protocgen.sh

# Failure count per package over FLAKY_RUNS runs (FLAKY_PKGS, FLAKY_RUN narrow it; see scripts/flaky.sh).
flaky:
	scripts/flaky.sh

# Every fuzz target in turn (scripts/fuzz.sh); findings land in testdata/fuzz as regression tests.
# `go test` (so make test-unit) runs every target on its seeds and those regressions already.
FUZZTIME ?= 60s
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

fuzz-short:
	FUZZTIME=10s scripts/fuzz.sh

# make test's share: every target FUZZTIME_TEST, one test binary per package, only this module's
# packages instrumented (the rest is the build test-unit cached), no minimizing of new inputs
# (which a short run would spend its time on), from the seeds and testdata only (a corpus kept
# from run to run would make each run replay more); docs/reliability.md §Fuzzing.
FUZZTIME_TEST ?= 3s
test-fuzz:
	FUZZTIME=$(FUZZTIME_TEST) FUZZ_MINIMIZE=0 FUZZ_INSTRUMENT=module FUZZ_CORPUS=fresh scripts/fuzz.sh

# make test runs the same tests with 2 to 5 kills.
CRASHLOOP_KILLS ?= 50
crashloop:
	CRASHLOOP_KILLS=$(CRASHLOOP_KILLS) $(GO) test -count=1 -v -run '^TestCrashLoop$$' ./node/storefs
	CRASHLOOP_KILLS=$(CRASHLOOP_KILLS) $(GO) test -count=1 -v -run '^TestStateCrashLoop$$' ./node/sidecar
	CRASHLOOP_KILLS=$(CRASHLOOP_KILLS) $(GO) test -count=1 -v -run '^TestFetchCrashLoop$$' ./node/p2p
	CRASHLOOP_KILLS=$(CRASHLOOP_KILLS) $(GO) test -count=1 -v -timeout 60m -run '^TestChainCrashLoop$$' ./tests/e2e

# The perturbation run (tests/chaos): one cycle of about 2 minutes (what make test runs), repeated
# for CHAOS_DURATION; it prints its figures at the end (docs/reliability.md).
CHAOS_DURATION ?= 30m
chaos: deps
	BUILDCHAIN_CHAOS_DURATION=$(CHAOS_DURATION) $(GO) test -count=1 -v -timeout 0 -run TestChaos ./tests/chaos/

# Fails if the committed generated code or OpenAPI document differ from what proto/ generates.
proto-check: proto-gen
	git diff --exit-code -- '*.pb.go' '*.pb.gw.go' app/openapi/openapi.json

lint:
	@out="$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\(\.gw\)\?\.go$$'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BINDIR)
