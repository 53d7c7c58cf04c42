# The local cluster (e2e/cluster): a real Kubernetes cluster on this machine
# with three kubelet nodes, TopoLVM and TopoLS installed with their charts.
# See e2e/README.md and docs/demo.md.
# Include from the main Makefile:   include e2e/cluster/cluster.mk
#
# CLUSTER_DIR   lab directory (default: $TOPOSUITE_CLUSTER_DIR, else /var/tmp/toposuite-cluster)
# CLUSTER_NODES number of kubelet nodes (default 3)
# CHAOS_ROUNDS  rounds of make test-chaos (default 10; make test-e2e runs 1)

CLUSTER_SRC      := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
CLUSTER_BIN      := $(CURDIR)/bin/toposuite-cluster
CLUSTER_DIR      ?= $(or $(TOPOSUITE_CLUSTER_DIR),/var/tmp/toposuite-cluster)
CLUSTER_NODES    ?= 3
E2E_TIMEOUT      ?= 30m
# Lab directory of the end-to-end tests' cluster (make test-e2e).
E2E_DIR          ?= /var/tmp/toposuite-e2e
# Lab directory of the operator's end-to-end test (its own cluster: nodes
# without the suite, with blank disks).
E2E_OPERATOR_DIR ?= /var/tmp/toposuite-e2e-operator
# Parallel end-to-end tests: they wait on the cluster, not on the CPU, so
# more than go test's default (GOMAXPROCS, 2 here).
E2E_PARALLEL     ?= 8
# Rounds of kills of make test-chaos (TestE2EChaos; make test-e2e runs one).
CHAOS_ROUNDS     ?= 10
# Debian packages the nodes need, and a command proving each (same order).
CLUSTER_PACKAGES := containerd runc containernetworking-plugins iptables iproute2 lvm2 btrfs-progs
CLUSTER_COMMANDS := containerd runc /usr/lib/cni/bridge iptables ip lvm mkfs.btrfs
CLUSTER_FLAGS     = --dir '$(CLUSTER_DIR)' --tools '$(E2E_TOOLS_BIN)' --repo '$(CURDIR)'

##@ Local cluster

.PHONY: cluster-deps
cluster-deps: ## Install containerd, runc, the CNI plugins and iptables from Debian when missing (as root).
	@missing=""; pkgs=($(CLUSTER_PACKAGES)); cmds=($(CLUSTER_COMMANDS)); \
	for i in $${!cmds[@]}; do c=$${cmds[$$i]}; \
	  if [ "$${c:0:1}" = / ]; then [ -e "$$c" ] || missing="$$missing $${pkgs[$$i]}"; \
	  else PATH=$$PATH:/sbin:/usr/sbin command -v $$c >/dev/null 2>&1 || missing="$$missing $${pkgs[$$i]}"; fi; done; \
	if [ -n "$$missing" ]; then \
	  echo ">> installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "not root: install$$missing yourself"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

.PHONY: cluster-build
cluster-build: ## Build the cluster command into bin/toposuite-cluster.
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -o '$(CLUSTER_BIN)' ./$(CLUSTER_SRC)/cmd/toposuite-cluster

.PHONY: demo
demo: deps cluster-deps tools-e2e images cluster-build ## From scratch: build what is missing, start the cluster, install both drivers, write to a PVC on each; leaves it up.
	@echo ">> demo: cluster in $(CLUSTER_DIR), $(CLUSTER_NODES) nodes"
	'$(CLUSTER_BIN)' demo $(CLUSTER_FLAGS) --nodes $(CLUSTER_NODES)

.PHONY: demo-down
demo-down: cluster-build ## Tear the demo cluster down (also after a failed or killed run).
	'$(CLUSTER_BIN)' down $(CLUSTER_FLAGS)

.PHONY: cluster-up
cluster-up: deps cluster-deps tools-e2e images cluster-build ## Start the cluster with both drivers, without the demo's PVCs (make demo-down removes it).
	'$(CLUSTER_BIN)' up $(CLUSTER_FLAGS) --nodes $(CLUSTER_NODES)

.PHONY: test-e2e
test-e2e: deps cluster-deps tools-e2e images cluster-build ## End-to-end tests on one fresh local cluster, torn down afterwards, also after a crash (root).
	@echo ">> end-to-end tests (one local cluster with $(CLUSTER_NODES) kubelet nodes in $(E2E_DIR))"
	@trap "[ ! -e '$(E2E_DIR)' ] || '$(CLUSTER_BIN)' down --dir '$(E2E_DIR)' --tools '$(E2E_TOOLS_BIN)' --repo '$(CURDIR)' >/dev/null" EXIT; \
	  TOPOSUITE_REQUIRE_ENVTEST=1 KUBEBUILDER_ASSETS='$(E2E_TOOLS_BIN)' TOPOSUITE_E2E_NODES=$(CLUSTER_NODES) \
	  TOPOSUITE_E2E_DIR='$(E2E_DIR)' $(GO) test $(or $(TEST_FLAGS),-count=1) -tags e2e -timeout $(E2E_TIMEOUT) -parallel $(E2E_PARALLEL) -v -run E2E ./$(CLUSTER_SRC)/

.PHONY: test-e2e-operator
test-e2e-operator: deps cluster-deps tools-e2e images cluster-build ## The operator's end-to-end test on its own local cluster (2 nodes with blank disks, no suite), torn down afterwards (root).
	@echo ">> operator end-to-end test (one local cluster with 2 kubelet nodes in $(E2E_OPERATOR_DIR))"
	@trap "[ ! -e '$(E2E_OPERATOR_DIR)' ] || '$(CLUSTER_BIN)' down --dir '$(E2E_OPERATOR_DIR)' --tools '$(E2E_TOOLS_BIN)' --repo '$(CURDIR)' >/dev/null" EXIT; \
	  TOPOSUITE_REQUIRE_ENVTEST=1 KUBEBUILDER_ASSETS='$(E2E_TOOLS_BIN)' TOPOSUITE_E2E_OPERATOR_DIR='$(E2E_OPERATOR_DIR)' \
	  $(GO) test $(or $(TEST_FLAGS),-count=1) -tags e2e -timeout $(E2E_TIMEOUT) -v -run E2E ./e2e/operator/

.PHONY: test-chaos
test-chaos: deps cluster-deps tools-e2e images cluster-build ## The chaos test's long run (CHAOS_ROUNDS rounds of kills, default 10; CHAOS_SEED replays one) and the failover test on one fresh local cluster, torn down afterwards (root).
	@echo ">> chaos: $(CHAOS_ROUNDS) rounds on one local cluster with $(CLUSTER_NODES) kubelet nodes in $(E2E_DIR)"
	@trap "[ ! -e '$(E2E_DIR)' ] || '$(CLUSTER_BIN)' down --dir '$(E2E_DIR)' --tools '$(E2E_TOOLS_BIN)' --repo '$(CURDIR)' >/dev/null" EXIT; \
	  CHAOS_ROUNDS=$(CHAOS_ROUNDS) TOPOSUITE_REQUIRE_ENVTEST=1 KUBEBUILDER_ASSETS='$(E2E_TOOLS_BIN)' TOPOSUITE_E2E_NODES=$(CLUSTER_NODES) \
	  TOPOSUITE_E2E_DIR='$(E2E_DIR)' $(GO) test $(or $(TEST_FLAGS),-count=1) -tags e2e -timeout 90m -v -run 'TestE2E(Chaos|Failover)$$' ./$(CLUSTER_SRC)/
