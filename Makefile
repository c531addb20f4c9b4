# revocd — common tasks. `make help` lists them.
GO        ?= go
BIN       ?= bin
PKGS      := ./...
FUZZTIME  ?= 30s

.PHONY: help run build test test-deps test-readme vet bench bench-go fuzz fuzz-short soak proto clean

help: ## list targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-12s %s\n", $$1, $$2}'

run: ## run the server in dev mode on 127.0.0.1:8000 (embedded: SQLite only)
	$(GO) run ./cmd/revocd --dev

build: ## build bin/revocd and bin/revoctl
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/...

test: test-deps vet ## install missing test tools, then unit, end-to-end and README tests, race detector, short fuzzing
	$(GO) test -count=1 -timeout 15m $(PKGS)
	$(GO) test -count=1 -race -timeout 15m ./index/ ./actors/... ./crypto/... ./persistence/... ./transport/... ./server/ ./internal/... ./validator/
	$(MAKE) fuzz-short

test-deps: ## install the system tools the tests need when missing (apt-get, as root or via sudo)
	@scripts/test-deps.sh

test-readme: test-deps ## run the README's tagged shell blocks against bin/revocd and bin/revoctl (readme/)
	$(GO) test -count=1 -timeout 5m ./readme/

vet: ## go vet and gofmt check
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

bench-go: ## in-process micro-benchmarks (index, token verification, event signing, SQLite)
	$(GO) test -run '^$$' -bench . -benchmem ./index/ ./crypto/... ./persistence/sqlitestore/

fuzz-short: ## run every fuzz target for 5 s
	@$(MAKE) --no-print-directory fuzz FUZZTIME=5s

fuzz: ## run every fuzz target for FUZZTIME (default 30s); see scripts/fuzz.sh
	@GO=$(GO) scripts/fuzz.sh $(FUZZTIME)

soak: ## bounded mixed-load soak of the real binary (SOAK_DURATION, default 5m): errors, lost revocations, memory growth
	$(GO) test -tags soak -count=1 -run '^TestSoak' -timeout 30m -v ./e2e/

proto: ## regenerate transport/remote protobuf + vtprotobuf code (apt install protobuf-compiler; go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12 github.com/planetscale/vtprotobuf/cmd/protoc-gen-go-vtproto@v0.5.0)
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" protoc --go_out=. --go_opt=paths=source_relative \
	  --go-vtproto_out=. --go-vtproto_opt=paths=source_relative,features=marshal+unmarshal+size \
	  transport/remote/*.proto

clean: ## remove build output
	rm -rf $(BIN)

.PHONY: bench-quick
bench: ## benchmark harness: every scenario, ratios and the README's Performance targets (< 10 min; writes bench/results/)
	$(GO) run ./bench -profile full -revoke-redis -index-memory

bench-quick: ## benchmark harness, about a minute
	$(GO) run ./bench -profile quick

.PHONY: test-browser
test-browser: ## headless-Chromium test of /docs (needs Debian's chromium: apt-get install -y chromium); screenshot in browser/out/
	@command -v $${CHROMIUM_PATH:-/usr/bin/chromium} >/dev/null 2>&1 || { echo "test-browser: Chromium not found at $${CHROMIUM_PATH:-/usr/bin/chromium}; install it with: apt-get install -y chromium" >&2; exit 1; }
	cd browser && npm ci --no-audit --no-fund && node docs.spec.mjs
