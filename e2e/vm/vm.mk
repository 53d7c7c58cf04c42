# The VM lane: lvmd's production path (LVM's own activation, thin pools,
# snapshots, RAID) in a qemu VM with a stock Debian kernel, because the host
# kernel has no device-mapper. docs/testing.md, "The VM lane".
# Include from the main Makefile:   include e2e/vm/vm.mk
#
# TOPOSUITE_VM_DIR  asset cache (default ~/.cache/toposuite/vm): the kernel
#                   and base initramfs e2e/vm/build-assets.sh builds from
#                   Debian packages, only when missing or changed.

# Directory of this file, resolved when it is included.
VM_SRC           := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
TOPOSUITE_VM_DIR ?= $(HOME)/.cache/toposuite/vm
VM_TIMEOUT       ?= 45m
# The packages whose tests boot a VM. One VM at a time (-p 1): each takes a
# core or two of TCG emulation.
VM_PKGS          := ./internal/testutil/vm/ ./lvmd/ ./csi/

# make test runs the lane once, in test-vm: test-integration, which would
# also run the TestIntegrationVM* tests, leaves them to it.
ifneq ($(filter test,$(MAKECMDGOALS)),)
test-integration: export TOPOSUITE_VM_SKIP=1
endif

##@ VM lane

.PHONY: vm-assets
vm-assets: ## Build the VM lane's kernel and initramfs from Debian packages into TOPOSUITE_VM_DIR (only when missing or changed; root for apt).
	@echo ">> VM lane: kernel and initramfs in $(TOPOSUITE_VM_DIR)"
	@TOPOSUITE_VM_DIR='$(TOPOSUITE_VM_DIR)' '$(VM_SRC)/build-assets.sh'

.PHONY: test-vm
test-vm: vm-assets ## lvmd on real device-mapper in a qemu VM: LVM activation, thin pools, snapshots, RAID, and the lvmd integration tests.
	@echo ">> VM lane: lvmd's production path in a qemu VM (TCG); one boot for the lvmd suite, progress below"
	TOPOSUITE_VM_DIR='$(TOPOSUITE_VM_DIR)' TOPOSUITE_REQUIRE_VM=1 \
	  $(GO) test $(TEST_FLAGS) -p 1 -v -tags integration -run TestIntegrationVM -timeout $(VM_TIMEOUT) $(VM_PKGS)

.PHONY: bench-vm
bench-vm: vm-assets ## lvmd against the raw lvm CLI with LVM's activation, in the qemu VM: prints ops/s and the ratio.
	@echo ">> VM lane: create+remove through lvmd against lvcreate/lvremove, with real activation, in a qemu VM (TCG)"
	TOPOSUITE_VM_DIR='$(TOPOSUITE_VM_DIR)' TOPOSUITE_REQUIRE_VM=1 TOPOSUITE_VM_BENCH=1 \
	  $(GO) test -count=1 -v -tags integration -run '^TestVMLaneBenchmark$$' -timeout $(VM_TIMEOUT) ./lvmd/
