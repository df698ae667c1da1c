# ocppd — the two commands a newcomer needs:
#   make run    build ocppd and run `ocppd serve` (ARGS="--mqtt-addr 127.0.0.1:1884" to pass flags)
#   make test   install what the tests need and run the whole test suite
# .ci/run calls `make test`.

export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
GO      ?= go
BIN     := bin/ocppd
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
ARGS    ?=

.PHONY: run build portal test test-deps vet fuzz bench bench-go clean

run: build
	./$(BIN) serve $(ARGS)

build: portal
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/ocppd

# The web portal (portal/): npm installs its packages from the committed
# lockfile, esbuild bundles src/ into portal/dist/, which go:embed puts in
# the binary. Without it the binary serves a "portal not built" page.
PORTAL_DEPS := portal/node_modules/.package-lock.json
PORTAL_SRC  := $(shell find portal/src -type f 2>/dev/null) portal/build.mjs
portal: portal/dist/index.html

$(PORTAL_DEPS): portal/package.json portal/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed to build the portal (apt-get install npm)"; exit 1; }
	npm ci --prefix portal --no-audit --no-fund --loglevel=error
	@touch $@

portal/dist/index.html: $(PORTAL_DEPS) $(PORTAL_SRC)
	npm run --prefix portal --silent build

# Test dependencies are installed by the project itself: npm packages for
# the independent OCPP client (ocpp-rpc), the OCPP schemas and the portal's
# browser tests (playwright-core), and Debian's chromium for those.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
test-deps: $(PORTAL_DEPS)
	npm ci --prefix test/ocpprpc --no-audit --no-fund --loglevel=error
	command -v chromium >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)
	# The cluster tests (test/cluster) put HAProxy in front of the gateways
	# and restart a Mosquitto of their own.
	command -v haproxy >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y haproxy)
	command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || ($(SUDO) apt-get update && $(SUDO) apt-get install -y mosquitto)
	@if [ -f tools/schemas/package-lock.json ]; then npm ci --prefix tools/schemas --no-audit --no-fund --loglevel=error; fi

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

test: test-deps vet portal
	OCPPD_TEST_NODE=1 $(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) fuzz

# A short run of every fuzz target; longer runs: FUZZTIME=10m make fuzz.
FUZZTIME ?= 10s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; \
	    if ! $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg > .fuzz.log 2>&1; then \
	      cat .fuzz.log; rm -f .fuzz.log; \
	      echo "fuzz $$f found a failing input; it is saved under testdata/fuzz/$$f in $$pkg's folder: commit it with the fix"; exit 1; \
	    fi; \
	  done; \
	done; rm -f .fuzz.log

# The benchmark suite: `ocppd load` scenarios against a fresh `ocppd serve`
# and the hot-path Go benchmarks; writes docs/performance.md (see
# bench/run.sh for the sizes, e.g. SESSIONS_DURATION=2m make bench).
bench:
	bench/run.sh

# Every Go benchmark of the module, once.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
	find portal/dist -mindepth 1 ! -name .gitkeep -delete
