# alga-mobile-auth — see README.md. Every target works on a fresh Debian
# machine with only Go installed.

BIN      := bin/alga-mobile-auth
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 3s

.PHONY: build run test test-unit fuzz vet bench image clean

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/alga-mobile-auth

## run: build and start the demo (SQLite under ./data, Enterprise trial, development sign-in)
run: build
	./scripts/demo.sh $(BIN)

## test: the whole suite: vet, gofmt, unit + integration tests with -race, brief fuzzing
test: vet test-unit fuzz

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...

test-unit:
	go test -race -count=1 -timeout 15m ./...

fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz-brief.sh

bench:
	go run ./cmd/loadtest $(BENCHFLAGS)

image:
	docker build --build-arg VERSION=$(VERSION) -t alga-mobile-auth:$(VERSION) .

clean:
	rm -rf bin
