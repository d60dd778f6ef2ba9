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

## test: formatting, vet, and every test (unit, end-to-end, fuzz seeds) under the race detector
test: fmt-check vet
	$(WITH_PG) $(GO) test -race -count=1 ./...

## race: the tests under the race detector, without the checks
race:
	$(WITH_PG) $(GO) test -race -count=1 ./...

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

## bench: benchmarks, then each figure beside its raw crypto baseline as a ratio (BENCHTIME=1s)
bench:
	{ KEYCTL_TEST_PG_FSYNC=on $(WITH_PG) $(GO) test -run '^$$' -bench . -benchmem -benchtime $(or $(BENCHTIME),1s) ./pkg/... ./internal/bulk/... ./internal/keystore/ 2>&1 || echo FAIL; } | \
	  $(GO) run ./testdata/bench/benchtable

## bench-peers: time keyctl against go-jose, the C jose tool and panva/jose (docs/performance.md)
bench-peers:
	bash testdata/bench/peers.sh

## docs: regenerate the command reference in docs/ and the help and completion goldens
## bench-serve: keyctl serve against nginx, same JWKS and headers, same load (docs/performance.md)
bench-serve:
	bash testdata/bench/serve/bench.sh

docs:
	$(GO) run ./internal/docgen -out docs/reference
	UPDATE_SCRIPTS=1 $(GO) test -count=1 . -run 'TestScripts/(help_|completion_)'

docs-check:
	$(GO) test -run TestDocsUpToDate ./internal/docgen

tidy-check:
	$(GO) mod tidy -diff

clean:
	rm -rf bin
