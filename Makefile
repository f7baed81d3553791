# gonbd's development targets. "make check" is the one test command; CI runs
# it through .ci/run. Every target that acts on modules finds them in go.work
# (through the helpers of tools/, built into .bin/), so adding a module to
# go.work is all it takes for every target to cover it. "make help" lists the
# targets.

GO ?= go
BIN := $(CURDIR)/.bin

# Each "go test" binary is killed after this long, so a hung test fails the
# run instead of eating CI's time.
TEST_TIMEOUT ?= 10m
# How long "make fuzz" fuzzes each fuzz test.
FUZZTIME ?= 60s
# The platforms "make cross" builds and vets every module for.
CROSS_PLATFORMS ?= linux/arm64 darwin/arm64 windows/amd64 freebsd/amd64 openbsd/amd64

# Linters, pinned and installed with the Go toolchain into .bin/, named by
# version so that changing a version here installs the new one.
STATICCHECK_VERSION := v0.8.2
ACTIONLINT_VERSION := v1.7.12
STATICCHECK := $(BIN)/staticcheck@$(STATICCHECK_VERSION)
ACTIONLINT := $(BIN)/actionlint@$(ACTIONLINT_VERSION)

EACH := $(BIN)/gonbd-each
# Every package of every module of go.work. One go command over all of them
# builds shared dependencies once and runs packages in parallel, which a loop
# over the modules cannot; CI's matrix still tests each module on its own.
PKGS := github.com/gonbd/gonbd/...

export BIN GO STATICCHECK CROSS_PLATFORMS PKGS

.PHONY: help check test test-all vet e2e fuzz bench lint cross licenses \
	release-check modules ci-matrix ci-matrix-update actionlint clients tools clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

check: ## THE test command: clients, vet, every test, lint, cross, licenses, release-check, ci-matrix, actionlint
	@tools/ci/check.sh

clients: ## install the real NBD clients the end-to-end tests drive (needs root when one is missing)
	tools/ci/install-clients.sh

tools: ## build the helper programs of tools/cmd into .bin/
	cd tools && $(GO) build -o $(BIN)/ ./cmd/...

vet: tools ## go vet every package of every module
	$(GO) vet $(PKGS)

test: tools ## unit tests only: go test -race -short, every module
	$(GO) test -race -short -timeout $(TEST_TIMEOUT) $(PKGS)

test-all: tools ## every test, end-to-end ones included; a missing NBD client fails them
	GONBD_REQUIRE_CLIENTS=1 $(GO) test -race -timeout $(TEST_TIMEOUT) $(PKGS)

e2e: tools ## only the end-to-end tests (named TestE2E*) of every module
	GONBD_REQUIRE_CLIENTS=1 $(GO) test -race -timeout $(TEST_TIMEOUT) -run E2E $(PKGS)

fuzz: tools ## run every fuzz test of every module for FUZZTIME (default 60s) each
	$(BIN)/gonbd-fuzz -fuzztime $(FUZZTIME)

bench: tools ## every benchmark of every module
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

lint: tools $(STATICCHECK) ## gofmt, go vet and staticcheck in every module
	tools/ci/lint.sh

cross: tools ## go build and go vet every module for each of CROSS_PLATFORMS, without cgo
	tools/ci/cross.sh

licenses: tools ## every module carries LICENSE; everything linked is permissively licensed
	$(BIN)/gonbd-licenses

release-check: tools ## pack the modules at their next versions and install and build against them
	$(BIN)/gonbd-release check

modules: tools ## list the modules with their latest and next versions, in release order
	@$(BIN)/gonbd-release list

ci-matrix: tools ## check that the CI workflow has a job for each module of go.work
	$(BIN)/gonbd-cimatrix

ci-matrix-update: tools ## rewrite the CI workflow's module list from go.work
	$(BIN)/gonbd-cimatrix -update

actionlint: $(ACTIONLINT) ## lint the GitHub workflows
	$(ACTIONLINT) .github/workflows/*.yml

$(STATICCHECK):
	tools/ci/go-install.sh $@ honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(ACTIONLINT):
	tools/ci/go-install.sh $@ github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

clean: ## remove .bin/ (helpers and linters)
	rm -rf $(BIN)
