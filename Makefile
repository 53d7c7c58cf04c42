# TopoSuite build. `make help` lists the targets.
#
# Everything a fresh machine of this project's kind needs is installed here:
# Debian packages (when missing, as root) and Go tools at pinned versions
# into bin/tools. No other setup step exists.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO            ?= go
TOOLS_BIN     := $(CURDIR)/bin/tools
export PATH   := $(TOOLS_BIN):$(PATH)

VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT        ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
# Read once: a commit made while make runs must not change what the
# binaries are checked against.
VERSION       := $(VERSION)
COMMIT        := $(COMMIT)
LDFLAGS       := -X github.com/toposuite/toposuite/internal/version.version=$(VERSION) \
                 -X github.com/toposuite/toposuite/internal/version.commit=$(COMMIT)
BINARIES      := lvmd btrfsd topolvm-controller topolvm-node topols-node topolvm-scheduler topolvm-operator

# Pinned tool versions.
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
STATICCHECK_VERSION        := v0.8.2
CONTROLLER_GEN_VERSION     := v0.23.0

# Generated files `make verify` checks are up to date.
GENERATED := internal/daemonapi internal/api deploy/charts/topolvm/crds deploy/charts/topols/crds deploy/charts/topolvm-operator/crds

DEBIAN_PACKAGES := lvm2 btrfs-progs xfsprogs e2fsprogs util-linux protobuf-compiler
# Commands that prove each package above is present (same order).
DEBIAN_COMMANDS := lvm mkfs.btrfs mkfs.xfs mkfs.ext4 losetup protoc

TEST_FLAGS    ?= -count=1
# Packages with integration tests (files tagged integration).
INTEGRATION_PKGS = $(addprefix ./,$(sort $(dir $(shell grep -rl --include='*_test.go' '^//go:build integration' cmd csi lvmd btrfsd scheduler internal deploy))))

include e2e/tools/tools.mk
include e2e/images/images.mk
include e2e/cluster/cluster.mk
include e2e/vm/vm.mk
INTEGRATION_TIMEOUT ?= 30m

##@ Main

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z0-9_.-]+:.*?##/ { printf "  %-22s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build every binary into bin/.
	@mkdir -p bin
	@for b in $(BINARIES); do echo ">> build $$b"; CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/$$b ./cmd/$$b; done

.PHONY: test
test: deps check-binaries test-unit test-integration test-vm test-images test-e2e test-e2e-operator ## Run the whole suite: unit, real-storage and API-server integration tests, image builds, end-to-end tests on a local cluster.
	@echo ">> all tests passed"

.PHONY: check-binaries
check-binaries: build ## Build every binary and check that each answers --version with the stamped commit.
	@for b in $(BINARIES); do out=$$(bin/$$b --version); echo "   $$out"; case "$$out" in *"commit $(COMMIT)"*) ;; *) echo "$$b: commit not stamped"; exit 1;; esac; done

.PHONY: test-unit
test-unit: ## Unit tests (no root needed).
	@echo ">> unit tests"
	$(GO) test $(TEST_FLAGS) ./...

.PHONY: test-integration
test-integration: deps tools-e2e ## Integration tests: real LVM and btrfs on loop devices, real API server, csi-sanity (root).
	@echo ">> integration tests (real LVM and btrfs on loop devices, real kube-apiserver, csi-sanity)"
	@trap '$(MAKE) --no-print-directory clean-test-leftovers' EXIT; \
	  KUBEBUILDER_ASSETS='$(E2E_TOOLS_BIN)' TOPOSUITE_REQUIRE_ENVTEST=1 \
	  $(GO) test $(TEST_FLAGS) -tags integration -run Integration -timeout $(INTEGRATION_TIMEOUT) $(INTEGRATION_PKGS)

.PHONY: bench
bench: deps tools-e2e bench-cluster bench-vm ## Benchmarks against the raw tools, through the API server, on the local cluster and in the VM; prints figures and ratios.
	@echo ">> benchmarks (real LVM and btrfs on loop devices, real kube-apiserver)"
	@trap '$(MAKE) --no-print-directory clean-test-leftovers' EXIT; \
	  KUBEBUILDER_ASSETS='$(E2E_TOOLS_BIN)' TOPOSUITE_REQUIRE_ENVTEST=1 $(GO) test -count=1 -tags integration -run '^$$' -bench . -benchtime 1x -timeout 30m ./lvmd/... ./btrfsd/... ./csi/... ./scheduler/...

# Volumes-per-node sizes of make bench-scale (ascending; each grows the last).
SCALE_SIZES ?= 10,100,1000,5000
.PHONY: bench-scale
bench-scale: deps ## lvmd and btrfsd with SCALE_SIZES existing volumes: create/remove latency, idle CPU, RSS, out-of-band change to Watch, restart (root; long).
	@echo ">> volumes per node: lvmd (metadata-only VG) and btrfsd (loop-backed pool) at $(SCALE_SIZES) volumes"
	@trap '$(MAKE) --no-print-directory clean-test-leftovers' EXIT; \
	  TOPOSUITE_SCALE_SIZES='$(SCALE_SIZES)' $(GO) test -count=1 -tags integration -run '^$$' -bench BenchmarkScaleVolumes -benchtime 1x -timeout 3h ./btrfsd/ ./lvmd/

# BENCH_CLUSTER picks sub-benchmarks, e.g. 'Provisioning/kcm-raised/lvm'.
BENCH_CLUSTER_TIMEOUT ?= 60m
.PHONY: bench-cluster
bench-cluster: deps cluster-deps tools-e2e images ## Issue #5's provisioning benchmark on a local cluster (3 kubelet nodes, both drivers; root): prints figures.
	@echo ">> provisioning benchmark on the local cluster (kube-controller-manager raised, then at its defaults)"
	KUBEBUILDER_ASSETS='$(E2E_TOOLS_BIN)' $(GO) test -count=1 -tags e2e -run '^$$' -bench '$(or $(BENCH_CLUSTER),.)' -benchtime 1x \
	  -timeout $(BENCH_CLUSTER_TIMEOUT) ./e2e/bench/

# FUZZTIME bounds each fuzz target's run.
FUZZTIME ?= 10s
.PHONY: test-fuzz
test-fuzz: ## Run every Go fuzz target for FUZZTIME each (parsers of LVM, btrfs and disk tools' output, config files, sizes, the extender's body).
	@echo ">> fuzz targets, $(FUZZTIME) each"
	@for f in $$(grep -rl --include='*_test.go' '^func Fuzz' cmd csi lvmd btrfsd scheduler internal | sort); do \
	  pkg=./$$(dirname $$f); \
	  for t in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -d' ' -f2); do \
	    echo "   $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg >/tmp/toposuite-fuzz.log 2>&1 || { cat /tmp/toposuite-fuzz.log; exit 1; }; \
	  done; \
	done
	@echo ">> fuzz targets passed"

.PHONY: verify
verify: tools ## gofmt, go vet, staticcheck, generated code up to date.
	@echo ">> gofmt"
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@echo ">> go vet"
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	$(GO) vet -tags e2e ./e2e/...
	cd e2e/images && GOWORK=off $(GO) vet ./...
	@echo ">> staticcheck"
	staticcheck ./...
	staticcheck -tags integration ./...
	staticcheck -tags e2e ./e2e/...
	cd e2e/images && GOWORK=off staticcheck ./...
	@echo ">> generated code"
	@$(MAKE) --no-print-directory generate
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then git status --short -- $(GENERATED); git diff -- $(GENERATED) | head -50; echo "generated code is out of date: run make generate and commit"; exit 1; fi
	@echo ">> verify ok"

.PHONY: generate
generate: tools ## Regenerate code: gRPC API, deepcopy, CRDs.
	$(GO) generate ./internal/daemonapi/...
	controller-gen object paths=./internal/api/...
	controller-gen crd:crdVersions=v1 paths=./internal/api/topolvm/... output:crd:dir=deploy/charts/topolvm/crds
	controller-gen crd:crdVersions=v1 paths=./internal/api/topolvm/... output:crd:dir=deploy/charts/topols/crds
	controller-gen crd:crdVersions=v1 paths=./internal/api/operator/... output:crd:dir=deploy/charts/topolvm-operator/crds

.PHONY: clean
clean: clean-test-leftovers ## Remove build output.
	rm -rf bin

##@ Setup

.PHONY: deps
deps: ## Install the Debian packages the tests need (as root, only when missing).
	@missing=""; pkgs=($(DEBIAN_PACKAGES)); cmds=($(DEBIAN_COMMANDS)); \
	for i in $${!cmds[@]}; do command -v $${cmds[$$i]} >/dev/null 2>&1 || PATH=$$PATH:/sbin:/usr/sbin command -v $${cmds[$$i]} >/dev/null 2>&1 || missing="$$missing $${pkgs[$$i]}"; done; \
	if [ -n "$$missing" ]; then \
	  echo ">> installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "not root: install$$missing yourself"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

.PHONY: tools
tools: deps $(TOOLS_BIN)/protoc-gen-go-$(PROTOC_GEN_GO_VERSION) $(TOOLS_BIN)/protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION) $(TOOLS_BIN)/staticcheck-$(STATICCHECK_VERSION) $(TOOLS_BIN)/controller-gen-$(CONTROLLER_GEN_VERSION) ## Install the pinned Go tools into bin/tools.

$(TOOLS_BIN)/protoc-gen-go-$(PROTOC_GEN_GO_VERSION):
	GOBIN=$(TOOLS_BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	@touch $@

$(TOOLS_BIN)/protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION):
	GOBIN=$(TOOLS_BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	@touch $@

$(TOOLS_BIN)/controller-gen-$(CONTROLLER_GEN_VERSION):
	GOBIN=$(TOOLS_BIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	@touch $@

$(TOOLS_BIN)/staticcheck-$(STATICCHECK_VERSION):
	GOBIN=$(TOOLS_BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@touch $@

.PHONY: clean-test-leftovers
clean-test-leftovers: ## Detach loop devices and unmount what a killed test run left behind.
	@bash e2e/clean-test-leftovers.sh
