# keyctl's build. Every target works on a fresh clone with only Go installed
# (tools are run with `go run` at pinned versions).

GO        ?= go
BIN       ?= bin/keyctl
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/keyctl/keyctl/cmd.Version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME  ?= 20s

.PHONY: all build test race vet fmt-check lint fuzz bench bench-peers bench-serve docs docs-check tidy-check clean

all: build test

## build: compile bin/keyctl, static (no libc, no dynamic loader at start-up)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

# with-cluster.sh starts a throw-away PostgreSQL cluster on loopback for the
# PostgreSQL keyring's tests when PostgreSQL is installed (they skip, saying
# how to install it, when it is not; under CI=true they fail instead).
WITH_PG := bash testdata/pg/with-cluster.sh

# $(call run_tests,BINARY): go test -race on every package (with the
# PostgreSQL cluster), then which interop tests skipped and what to install
# (each skipped test appends a line to $KEYCTL_TEST_SKIP_REPORT).
# With BINARY non-empty, keyctl is built once, without the race detector,
# and the root package's end-to-end scripts and process tests run it
# (KEYCTL_TEST_BINARY, see main_test.go) instead of re-running the
# race-enabled test binary as keyctl, which is several times slower; the
# packages under cmd/, internal/ and pkg/ still run under the race detector.
# GORACE: a race-enabled binary sleeps a second at exit unless told not to,
# and the tests start hundreds of them.
define run_tests
	@tmp=$$(mktemp -d) || exit 1; trap 'rm -rf "$$tmp"' EXIT; \
	$(if $(1),echo "CGO_ENABLED=0 $(GO) build -o $$tmp/keyctl ."; \
	  CGO_ENABLED=0 $(GO) build -o "$$tmp/keyctl" . || exit 1; \
	  export KEYCTL_TEST_BINARY="$$tmp/keyctl";) \
	export GORACE="$${GORACE:-atexit_sleep_ms=0}" KEYCTL_TEST_SKIP_REPORT="$$tmp/skips"; \
	echo "$(WITH_PG) $(GO) test -race -count=1 ./..."; \
	$(WITH_PG) $(GO) test -race -count=1 ./...; status=$$?; \
	if [ -s "$$tmp/skips" ]; then \
	  echo; echo "== $$(wc -l < "$$tmp/skips") interop test(s) skipped: a client is not installed (docs/interop.md)"; \
	  sort "$$tmp/skips" | sed 's/^/   /'; \
	  echo "== to run them (.ci/run does all of it):"; \
	  sed -e 's/.* is missing: //' -e 's/^run: //' "$$tmp/skips" | sort -u | sed 's/^/   /'; \
	fi; \
	exit $$status
endef

## test: formatting, vet, and every test (unit, end-to-end, fuzz seeds); the race detector on all but the end-to-end scripts' keyctl
test: fmt-check vet
	$(call run_tests,binary)

## race: the tests under the race detector, the end-to-end scripts' keyctl too, without the checks
race:
	$(call run_tests,)

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## lint: go vet and staticcheck at a pinned version
lint: vet
	$(GO) run $(STATICCHECK) ./...

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## bench: benchmarks, then each figure beside its raw crypto baseline as a ratio (BENCHTIME=1s); then whole keyctl commands on a file, on PostgreSQL over TCP and over its Unix socket, and through PgBouncer
bench:
	{ KEYCTL_TEST_PG_FSYNC=on $(WITH_PG) $(GO) test -run '^$$' -bench . -benchmem -benchtime $(or $(BENCHTIME),1s) ./pkg/... ./internal/bulk/... ./internal/keystore/ 2>&1 || echo FAIL; } | \
	  $(GO) run ./testdata/bench/benchtable
	KEYCTL_TEST_PG_FSYNC=on $(WITH_PG) bash testdata/bench/pg/whole.sh

## bench-peers: time keyctl against go-jose, the C jose tool and panva/jose (docs/performance.md)
bench-peers:
	bash testdata/bench/peers.sh

## bench-serve: keyctl serve against nginx, same JWKS and headers, same load (PINNED=1: again with server and wrk on separate cores); then a PostgreSQL-backed replica against a file-backed one (docs/performance.md)
bench-serve:
	$(WITH_PG) bash testdata/bench/serve/bench.sh

## docs: regenerate the command reference in docs/ and the help and completion goldens
docs:
	$(GO) run ./internal/docgen -out docs/reference
	UPDATE_SCRIPTS=1 $(GO) test -count=1 . -run 'TestScripts/(help_|completion_)'

docs-check:
	$(GO) test -run TestDocsUpToDate ./internal/docgen

tidy-check:
	$(GO) mod tidy -diff

clean:
	rm -rf bin
