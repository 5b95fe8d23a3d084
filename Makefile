# alga-mobile-auth — see README.md. Every target works on a fresh Debian
# machine with only Go installed.

BIN      := bin/alga-mobile-auth
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
# Count-based by default: a time-based -fuzztime can end in "context deadline
# exceeded" with no failing input on a loaded machine (golang/go#75804).
FUZZTIME ?= 20000x

# Go 1.27.3 fixes standard-library vulnerabilities in 1.26; the Go module
# proxy serves it as a toolchain (downloaded once per machine).
export GOTOOLCHAIN := go1.27.3

.PHONY: build run test test-unit fuzz vet lint golangci-lint vulncheck bench reliability image clean

# The first build downloads the toolchain and the modules and compiles
# everything, silently for minutes: say so, and list packages as they build.
build:
	@[ -x $(BIN) ] || echo "first build: go downloads Go $(GOTOOLCHAIN:go%=%) and the modules, then compiles (each package is listed; a few minutes)"
	CGO_ENABLED=0 go build -trimpath $(if $(wildcard $(BIN)),,-v) -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/alga-mobile-auth

# The development identity provider (internal/devidp) is linked only into
# builds with the devidp tag: `make run` and the tests. `make build` and the
# image leave it out, and such a binary refuses ALGA_MOBILE_DEV_IDP.
DEVTAGS  := devidp
DEV_BIN  := bin/alga-mobile-auth-dev

## run: build and start the demo (SQLite under ./data, Enterprise trial, development sign-in)
run:
	@[ -x $(DEV_BIN) ] || echo "first build: go downloads Go $(GOTOOLCHAIN:go%=%) and the modules, then compiles (each package is listed; a few minutes)"
	CGO_ENABLED=0 go build -tags $(DEVTAGS) -trimpath $(if $(wildcard $(DEV_BIN)),,-v) -ldflags "$(LDFLAGS)" -o $(DEV_BIN) ./cmd/alga-mobile-auth
	./scripts/demo.sh $(DEV_BIN)

## test: the whole suite: vet, gofmt, unit + integration tests with -race, brief fuzzing;
## ends with the skip reasons and the "N passed, M failed, K skipped" tally of test-unit
test: vet test-unit fuzz
	@cat bin/test-summary.txt

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go vet -tags $(DEVTAGS) ./...

# testtally runs go test -json: one line a package, failing tests' output in
# full, skip reasons grouped, and the tally (also kept in bin/test-summary.txt).
test-unit:
	go run ./cmd/testtally -summary bin/test-summary.txt -- -tags $(DEVTAGS) -race -count=1 -timeout 15m ./...

fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz-brief.sh

# Security tooling (README, "Testing" > "Security tooling"). The tools are
# pinned in their own modules, tools/lint and tools/vuln, so the service's
# go.mod does not carry them; `go tool` builds each once and caches it.

## lint: golangci-lint, then govulncheck
lint: golangci-lint vulncheck

## golangci-lint: the linters of .golangci.yml over the module with the devidp tag and the tests,
## the untagged build's own file, and tools/vuln's program
# --allow-parallel-runners: golangci-lint otherwise refuses to start while any
# other run (another checkout's CI, an editor) holds its lock in /tmp.
GOLANGCI := run --allow-parallel-runners
golangci-lint:
	gl=$$(cd tools/lint && go tool -n golangci-lint) && \
	  $$gl $(GOLANGCI) --build-tags=$(DEVTAGS) ./... && \
	  $$gl $(GOLANGCI) ./internal/app/ && \
	  cd tools/vuln && $$gl $(GOLANGCI) ./...

## vulncheck: govulncheck (tests and the devidp build included) against an offline database
## built from the golang.org/x/vulndb version pinned in tools/vuln/vulndb.pin; fails on any
## vulnerability the code calls
VULNDB := $(CURDIR)/bin/vulndb
vulncheck:
	cd tools/vuln && go test -count=1 ./cmd/vulndb && go run ./cmd/vulndb -out $(VULNDB)
	cd tools/vuln && go tool govulncheck -C $(CURDIR) -db file://$(VULNDB) -tags $(DEVTAGS) -test ./...

bench:
	go run ./cmd/loadtest $(BENCHFLAGS)

## reliability: replicas, kill -9, database and Redis outages, shutdown, soak and scale on real
## processes (its own PostgreSQL cluster and Redis); RELFLAGS="-profile ci" is the short run of .ci/run
reliability: build
	go run ./cmd/reliability -bin $(BIN) $(RELFLAGS)

image:
	docker build --build-arg VERSION=$(VERSION) -t alga-mobile-auth:$(VERSION) .

clean:
	rm -rf bin
