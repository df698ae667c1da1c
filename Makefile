# ocppd — the two commands a newcomer needs:
#   make run    build ocppd and run `ocppd serve` (ARGS="--mqtt-addr :1884" to pass flags)
#   make test   install what the tests need and run the whole test suite
# .ci/run calls `make test`.

export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
GO      ?= go
BIN     := bin/ocppd
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
ARGS    ?=

.PHONY: run build test test-deps vet fuzz bench clean

run: build
	./$(BIN) serve $(ARGS)

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/ocppd

# Test dependencies are installed by the project itself: npm packages for
# the independent OCPP client (ocpp-rpc) and for the OCPP schemas.
test-deps:
	npm ci --prefix test/ocpprpc --no-audit --no-fund --loglevel=error
	@if [ -f tools/schemas/package-lock.json ]; then npm ci --prefix tools/schemas --no-audit --no-fund --loglevel=error; fi

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

test: test-deps vet
	OCPPD_TEST_NODE=1 $(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) fuzz

# A short run of every fuzz target; longer runs: FUZZTIME=10m make fuzz.
FUZZTIME ?= 10s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg >/dev/null; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
