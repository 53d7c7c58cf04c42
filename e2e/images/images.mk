# Container images of the suite, built without docker or a registry:
# docker-archive tarballs written by the image builder in this directory (its
# own Go module, go-containerregistry), from the static binaries of `make
# build` and, for the node images, files of Debian packages that
# fetch-debs.sh downloads once into a cache. See e2e/images/README.md.
# Include from the main Makefile:   include e2e/images/images.mk
#
# IMAGES_DEBS_DIR  Debian package cache (default: $TOPOSUITE_DEBS_DIR, else
#                  ~/.cache/toposuite/debs)
# IMAGES_OUT       output directory: <image>.tar and images.txt (bin/images)
# IMAGE_TAG        image tag (default: $(VERSION), git describe)
# IMAGES_EPOCH     file mtimes and creation time, seconds (default:
#                  $SOURCE_DATE_EPOCH, else the last commit's time)
# IMAGES           comma-separated subset of the images (default: all)

# Directory of this file, resolved when it is included.
IMAGES_SRC      := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

IMAGES_DEBS_DIR ?= $(if $(TOPOSUITE_DEBS_DIR),$(TOPOSUITE_DEBS_DIR),$(HOME)/.cache/toposuite/debs)
IMAGES_OUT      ?= bin/images
IMAGE_TAG       ?= $(or $(VERSION),devel)
IMAGES_EPOCH    ?= $(or $(SOURCE_DATE_EPOCH),$(shell git log -1 --format=%ct 2>/dev/null),0)
IMAGES          ?=
# Where `make build` puts the binaries, and the pause binary.
IMAGES_BIN      := $(CURDIR)/bin
IMAGES_GO       := $(or $(GO),go)

##@ Images

.PHONY: images
images: build images-debs ## Build the container images (docker-archive tarballs) into bin/images (cold ~30 s with the downloads, warm ~10 s).
	@echo ">> build pause"
	@cd '$(IMAGES_SRC)' && CGO_ENABLED=0 GOWORK=off $(IMAGES_GO) build -trimpath -o '$(IMAGES_BIN)/pause' ./pause
	@echo ">> images: tag $(IMAGE_TAG), epoch $(IMAGES_EPOCH), into $(IMAGES_OUT)"
	@cd '$(IMAGES_SRC)' && GOWORK=off $(IMAGES_GO) run . \
	  -tag '$(IMAGE_TAG)' -out '$(abspath $(IMAGES_OUT))' -bin '$(IMAGES_BIN)' -pause '$(IMAGES_BIN)/pause' \
	  -debs '$(IMAGES_DEBS_DIR)/root' -epoch '$(IMAGES_EPOCH)' -revision '$(COMMIT)' $(if $(IMAGES),-images '$(IMAGES)')
	@echo ">> $(IMAGES_OUT)/images.txt (image, digest, bytes, image ID):"
	@sed 's/^/   /' '$(IMAGES_OUT)/images.txt'
	@echo ">> import: for f in $(IMAGES_OUT)/*.tar; do ctr -n k8s.io images import \$$f; done"

.PHONY: images-debs
images-debs: ## Download and extract the Debian packages the node images take files from, when missing (~26 MB, once).
	@'$(IMAGES_SRC)/fetch-debs.sh' '$(IMAGES_DEBS_DIR)'

.PHONY: test-images
test-images: images-debs ## Image builder tests: reproducible digests, contents, node tools run in a chroot (root).
	@echo ">> image builder tests"
	cd '$(IMAGES_SRC)' && GOWORK=off TOPOSUITE_DEBS_DIR='$(IMAGES_DEBS_DIR)' TOPOSUITE_REQUIRE_ENVTEST=1 \
	  $(IMAGES_GO) test $(or $(TEST_FLAGS),-count=1) ./...
