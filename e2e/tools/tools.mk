# e2e tools: binaries the end-to-end suites need (etcd, the Kubernetes
# control plane and kubelet, CSI sidecars, csi-sanity, helm),
# built from the Go module proxy at pinned versions by e2e/tools/build.sh.
# Include from the main Makefile:   include e2e/tools/tools.mk
#
# E2E_TOOLS_DIR   cache directory (default: $TOPOSUITE_TOOLS_DIR, else
#                 ~/.cache/toposuite/tools); binaries in $(E2E_TOOLS_BIN),
#                 CRDs in $(E2E_TOOLS_CRDS)/{snapshot,groupsnapshot}.

# Directory of this file, resolved when it is included.
E2E_TOOLS_SRC  := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

E2E_TOOLS_DIR  ?= $(if $(TOPOSUITE_TOOLS_DIR),$(TOPOSUITE_TOOLS_DIR),$(HOME)/.cache/toposuite/tools)
E2E_TOOLS_BIN  := $(E2E_TOOLS_DIR)/bin
E2E_TOOLS_CRDS := $(E2E_TOOLS_DIR)/crds

##@ E2E tools

.PHONY: tools-e2e
tools-e2e: ## Build the missing e2e tools (etcd, kube-*, kubelet, CSI sidecars, helm...) into E2E_TOOLS_DIR (cold ~11 min).
	TOPOSUITE_TOOLS_DIR='$(E2E_TOOLS_DIR)' GO='$(or $(GO),go)' '$(E2E_TOOLS_SRC)/build.sh'

.PHONY: tools-e2e-smoke
tools-e2e-smoke: tools-e2e ## Start etcd + kube-apiserver from E2E_TOOLS_DIR on loopback and list namespaces.
	TOPOSUITE_TOOLS_DIR='$(E2E_TOOLS_DIR)' '$(E2E_TOOLS_SRC)/smoke.sh'
