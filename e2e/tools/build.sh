#!/usr/bin/env bash
# Build the binaries the e2e suites need (etcd, the Kubernetes control plane
# and kubelet, CSI sidecars, csi-sanity, helm) at pinned
# versions into a cache directory, from the Go module proxy only. A binary is
# built only when it is missing or its stamp does not match the pinned recipe
# (version, go.mod/go.sum of its tools module, ldflags), so a version bump
# rebuilds it and a second run takes seconds. See README.md.
#
# Usage: build.sh [NAME...]     build everything, or only the named tools
#                               (etcd etcdctl kube-apiserver ... crds)
# Environment:
#   TOPOSUITE_TOOLS_DIR  cache directory (default $HOME/.cache/toposuite/tools)
#   FORCE=1              rebuild even when the stamp matches
#   GO                   go command (default go)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS_DIR=${TOPOSUITE_TOOLS_DIR:-${HOME}/.cache/toposuite/tools}
GO=${GO:-go}
FORCE=${FORCE:-0}

BIN=$TOOLS_DIR/bin
STAMPS=$TOOLS_DIR/stamps
CRDS=$TOOLS_DIR/crds

# Versions of the tools installed with `go install pkg@version` (their modules
# have no replace directives). The others are pinned in their tools module's
# go.mod (etcd/, kube/, csi-provisioner/, csi-snapshotter/) and read from it.
CSI_RESIZER_VERSION=v2.3.0
CSI_SANITY_VERSION=v5.6.0
HELM_VERSION=v3.22.0
# helm's release build stamps the Kubernetes version of its client-go
# (k8s.io/client-go v0.37.0 in helm v3.22.0's go.mod => 1.37); it is the
# default .Capabilities.KubeVersion for `helm template` and lint.
HELM_K8S_MAJOR=1
HELM_K8S_MINOR=37

# Static, reproducible builds; never pick up a go.work from a parent directory.
export CGO_ENABLED=0 GOWORK=off
BUILD_FLAGS=(-trimpath)

log() { printf '%s\n' "$*"; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

# modver DIR MODULE: the version of MODULE required by DIR/go.mod (no network).
modver() {
	local v
	v=$(awk -v m="$2" '
		$1 == "require" && $2 == m { print $3; exit }
		$1 == m && $2 != "=>"      { print $2; exit }' "$HERE/$1/go.mod")
	[[ -n $v ]] || die "$2 not required in $HERE/$1/go.mod"
	printf '%s' "$v"
}

# recipe ARGS...: a short hash of everything that defines a build.
recipe() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }

# fresh NAME STAMP: true when NAME is built and its stamp matches STAMP.
fresh() {
	[[ $FORCE != 1 && -x $BIN/$1 && -f $STAMPS/$1 && "$(cat "$STAMPS/$1")" == "$2" ]]
}

ALL="etcd etcdctl kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet
csi-provisioner csi-snapshotter snapshot-controller crds csi-resizer csi-sanity helm"
for a in "$@"; do
	[[ " $(echo $ALL) " == *" $a "* ]] || die "unknown tool '$a' (known: $(echo $ALL))"
done
# Tools selected on the command line (empty: all).
SELECTED=" $* "
wanted() { [[ $SELECTED == "  " || $SELECTED == *" $1 "* ]]; }

BUILT=0
SKIPPED=0

# start NAME VERSION NOTE: progress line; sets T0.
start() {
	log ">> building $1 $2${3:+ ($3)}"
	T0=$(date +%s.%N)
}
finish() { # NAME VERSION STAMP: check the version the tool reports, write its stamp
	local out
	if [[ $1 != crds ]]; then
		out=$(versionof "$1")
		[[ $out == *"${2#v}"* ]] || die "$1 reports '$out', expected $2"
	fi
	printf '%s\n' "$3" >"$STAMPS/$1"
	BUILT=$((BUILT + 1))
	log "   $1 done in $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
}
skip() {
	SKIPPED=$((SKIPPED + 1))
	log "   $1 $2 up to date"
}

# modbuild NAME MODDIR PKG VERSION NOTE LDFLAGS: go build PKG inside the tools
# module MODDIR, with its committed go.sum (-mod=readonly).
modbuild() {
	local name=$1 dir=$2 pkg=$3 version=$4 note=$5 ldflags=$6 stamp
	wanted "$name" || return 0
	stamp="$version $(recipe "$pkg" "$ldflags" "$CGO_ENABLED" "${BUILD_FLAGS[*]}" \
		"$(cat "$HERE/$dir/go.mod" "$HERE/$dir/go.sum")")"
	if fresh "$name" "$stamp"; then skip "$name" "$version"; return 0; fi
	start "$name" "$version" "$note"
	(cd "$HERE/$dir" && "$GO" build -mod=readonly "${BUILD_FLAGS[@]}" -ldflags "$ldflags" \
		-o "$BIN/.$name.tmp" "$pkg")
	mv -f "$BIN/.$name.tmp" "$BIN/$name"
	finish "$name" "$version" "$stamp"
}

# gobinstall NAME PKG VERSION NOTE LDFLAGS: go install PKG@VERSION (its module
# has no replace directives, so this works and checks sums against sum.golang.org).
gobinstall() {
	local name=$1 pkg=$2 version=$3 note=$4 ldflags=$5 stamp tmp
	wanted "$name" || return 0
	stamp="$version $(recipe "$pkg@$version" "$ldflags" "$CGO_ENABLED" "${BUILD_FLAGS[*]}")"
	if fresh "$name" "$stamp"; then skip "$name" "$version"; return 0; fi
	start "$name" "$version" "$note"
	tmp=$BIN/.gobin-$name
	rm -rf "$tmp"
	# Outside any module, so GOFLAGS=-mod=... from the caller cannot interfere.
	(cd "$TOOLS_DIR" && GOBIN=$tmp GOFLAGS= "$GO" install "${BUILD_FLAGS[@]}" -ldflags "$ldflags" "$pkg@$version")
	mv -f "$tmp/$name" "$BIN/$name"
	rm -rf "$tmp"
	finish "$name" "$version" "$stamp"
}

# crds: copy the VolumeSnapshot (and VolumeGroupSnapshot) CRDs from the
# external-snapshotter client module pinned in csi-snapshotter/go.mod.
crds() {
	wanted crds || return 0
	local mod=github.com/kubernetes-csi/external-snapshotter/client/v8 version dir stamp
	version=$(modver csi-snapshotter "$mod")
	stamp="$version $(recipe "$mod@$version")"
	if [[ $FORCE != 1 && -f $STAMPS/crds && "$(cat "$STAMPS/crds")" == "$stamp" ]] &&
		compgen -G "$CRDS/snapshot/*.yaml" >/dev/null; then
		skip crds "$version"; return 0
	fi
	start "crds" "$version" "VolumeSnapshot CRDs from $mod"
	dir=$(cd "$HERE/csi-snapshotter" && "$GO" mod download -json "$mod@$version" |
		awk -F'"' '$2 == "Dir" { print $4 }')
	[[ -d $dir/config/crd ]] || die "no config/crd in $mod@$version ($dir)"
	rm -rf "$CRDS/snapshot" "$CRDS/groupsnapshot"
	mkdir -p "$CRDS/snapshot" "$CRDS/groupsnapshot"
	cp "$dir"/config/crd/snapshot.storage.k8s.io_*.yaml "$CRDS/snapshot/"
	cp "$dir"/config/crd/groupsnapshot.storage.k8s.io_*.yaml "$CRDS/groupsnapshot/"
	chmod -R u+w,go+r "$CRDS"
	finish crds "$version" "$stamp"
}

# versionof NAME: the first line of the version a built tool prints. (No
# `| head` here: with pipefail, the SIGPIPE it gives the tool fails the pipe.)
versionof() {
	local out
	case $1 in
	kubectl) out=$("$BIN/kubectl" version --client 2>&1) ;;
	etcdctl) out=$("$BIN/etcdctl" version 2>&1) ;;
	helm) out=$("$BIN/helm" version --short 2>&1) ;;
	csi-sanity) out=$("$BIN/csi-sanity" -version 2>&1) ;;
	*) out=$("$BIN/$1" --version 2>&1) ;;
	esac || true
	out=${out%%$'\n'*}
	printf '%s\n' "${out#"$BIN/"}"
}

main() {
	mkdir -p "$BIN" "$STAMPS" "$CRDS"
	# One build at a time per cache directory (parallel CI jobs, two shells).
	exec 9>"$TOOLS_DIR/.lock"
	flock 9

	local t_all etcd_v kube_v prov_v snap_v kv kmin ldk
	t_all=$(date +%s.%N)
	log ">> e2e tools into $TOOLS_DIR ($("$GO" env GOVERSION), GOCACHE=$("$GO" env GOCACHE))"

	# etcd: the server's main package and etcdctl, no replaces needed.
	etcd_v=$(modver etcd go.etcd.io/etcd/server/v3)
	[[ $(modver etcd go.etcd.io/etcd/etcdctl/v3) == "$etcd_v" ]] || die "etcd/go.mod: server and etcdctl versions differ"
	modbuild etcd etcd go.etcd.io/etcd/server/v3 "$etcd_v" "cold build ~1 min" ""
	modbuild etcdctl etcd go.etcd.io/etcd/etcdctl/v3 "$etcd_v" "" ""

	# Kubernetes: k8s.io/kubernetes with its staging modules replaced by the
	# matching v0.x releases (kube/go.mod). Without the version stamps kubectl
	# and helm see v0.0.0-master and refuse the server.
	kube_v=$(modver kube k8s.io/kubernetes)
	kv=${kube_v#v}
	kmin=${kv#*.}
	kmin=${kmin%%.*}
	ldk=""
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldk+="-X $p.gitVersion=$kube_v -X $p.gitMajor=${kv%%.*} -X $p.gitMinor=$kmin -X $p.gitTreeState=clean "
	done
	ldk=${ldk% }
	modbuild kube-apiserver kube k8s.io/kubernetes/cmd/kube-apiserver "$kube_v" "cold build takes minutes" "$ldk"
	modbuild kube-controller-manager kube k8s.io/kubernetes/cmd/kube-controller-manager "$kube_v" "" "$ldk"
	modbuild kube-scheduler kube k8s.io/kubernetes/cmd/kube-scheduler "$kube_v" "" "$ldk"
	modbuild kubectl kube k8s.io/kubernetes/cmd/kubectl "$kube_v" "" "$ldk"
	modbuild kubelet kube k8s.io/kubernetes/cmd/kubelet "$kube_v" "" "$ldk"

	# CSI sidecars whose modules carry replace directives: own tools modules.
	prov_v=$(modver csi-provisioner github.com/kubernetes-csi/external-provisioner/v6)
	modbuild csi-provisioner csi-provisioner github.com/kubernetes-csi/external-provisioner/v6/cmd/csi-provisioner \
		"$prov_v" "cold build ~1 min" "-X main.version=$prov_v"
	snap_v=$(modver csi-snapshotter github.com/kubernetes-csi/external-snapshotter/v8)
	modbuild csi-snapshotter csi-snapshotter github.com/kubernetes-csi/external-snapshotter/v8/cmd/csi-snapshotter \
		"$snap_v" "" "-X main.version=$snap_v"
	modbuild snapshot-controller csi-snapshotter github.com/kubernetes-csi/external-snapshotter/v8/cmd/snapshot-controller \
		"$snap_v" "" "-X main.version=$snap_v"
	crds

	# Modules without replace directives: go install pkg@version.
	gobinstall csi-resizer github.com/kubernetes-csi/external-resizer/v2/cmd/csi-resizer "$CSI_RESIZER_VERSION" "" \
		"-X main.version=$CSI_RESIZER_VERSION"
	gobinstall csi-sanity github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity "$CSI_SANITY_VERSION" "" \
		"-X main.VERSION=$CSI_SANITY_VERSION"
	gobinstall helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" "" \
		"-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$HELM_K8S_MAJOR -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM_K8S_MINOR -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$HELM_K8S_MAJOR -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_K8S_MINOR"

	log ">> $BUILT built, $SKIPPED up to date in $(awk -v a="$t_all" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
	log ">> $BIN"
	local f n
	for f in "$BIN"/*; do
		n=${f##*/}
		wanted "$n" || continue
		printf '   %-24s %s\n' "$n" "$(versionof "$n")"
	done
	if wanted crds; then
		log ">> $CRDS"
		(cd "$CRDS" && find . -name '*.yaml' | sort | sed 's|^\./|   |')
	fi
}

main "$@"
