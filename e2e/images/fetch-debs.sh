#!/usr/bin/env bash
# Fetch and extract the Debian packages the node and busybox images take
# their files from (mkfs.ext4, mkfs.xfs, btrfs, lvm, mount, nsenter... and
# every shared library they link), into a cache directory:
#
#   DIR/debs/<pkg>_<version>_<arch>.deb   what `apt-get download` fetched
#   DIR/root/<pkg>/                       `dpkg-deb -x` of that package
#   DIR/root/<pkg>.control                its control paragraph (`dpkg-deb -f`)
#   DIR/root/.stamp                       recipe of a complete extraction
#
# The package set is ROOTS below plus, recursively, the library packages they
# depend on (Depends/Pre-Depends, first alternative, names lib*, zlib1g and
# gcc-*-base, which holds the copyright file of libgcc-s1);
# the image builder then takes only the files it needs and the .so files they
# link (it resolves DT_NEEDED itself and fails if a library is missing).
#
# Nothing is fetched when DIR/root/.stamp matches the recipe (a hash of this
# script and the architecture); a .deb already in DIR/debs is never fetched
# again (delete DIR to take newer Debian updates).
#
# Usage: fetch-debs.sh [DIR]    (default $TOPOSUITE_DEBS_DIR, else
#                               ~/.cache/toposuite/debs)
# Needs: apt-get, apt-cache, dpkg-deb (Debian); root only when the apt lists
# are missing (then it runs apt-get update).
set -euo pipefail

# The packages the images need files from. Keep in sync with spec.go.
ROOTS=(
	e2fsprogs xfsprogs btrfs-progs util-linux mount lvm2 dmsetup
	coreutils busybox-static base-files libc6 libgcc-s1
)
DIR=${1:-${TOPOSUITE_DEBS_DIR:-$HOME/.cache/toposuite/debs}}
ARCH=$(dpkg --print-architecture)
DEBS=$DIR/debs
ROOT=$DIR/root

log() { printf '%s\n' "$*"; }
die() { printf 'fetch-debs.sh: %s\n' "$*" >&2; exit 1; }

for c in apt-get apt-cache dpkg-deb flock sha256sum; do
	command -v "$c" >/dev/null || die "$c not found (this needs a Debian host)"
done

# Any change to this script (ROOTS, the closure rule, the layout) or to the
# architecture makes a new extraction; .debs already downloaded are kept.
RECIPE=$( (cat "${BASH_SOURCE[0]}"; echo "arch=$ARCH") | sha256sum | cut -c1-16)

mkdir -p "$DEBS"
exec 9>"$DIR/.lock"
flock 9

if [[ -f $ROOT/.stamp && "$(cat "$ROOT/.stamp")" == "$RECIPE" ]]; then
	log ">> debian packages: cached in $ROOT ($(find "$ROOT" -maxdepth 1 -name '*.control' | wc -l) packages)"
	exit 0
fi

# apt-cache needs the package lists; fetch them once if this machine never did.
if ! apt-cache show --no-all-versions libc6 >/dev/null 2>&1; then
	[[ $(id -u) == 0 ]] || die "no apt package lists: run apt-get update as root"
	log ">> apt-get update"
	apt-get update -qq
fi

# depends PKG...: the first alternative of each Depends/Pre-Depends of the
# candidate versions, without version constraints or arch qualifiers (one
# apt-cache call per level: each call reads the whole package lists).
depends() {
	local out
	out=$(apt-cache show --no-all-versions "$@" 2>&1) || die "apt-cache show $*: $out"
	printf '%s\n' "$out" |
		awk '/^(Pre-)?Depends:/ { sub(/^[^:]*: */, ""); print }' |
		tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' -e 's/[[:space:]]//g' |
		sed '/^$/d' | sort -u
}

log ">> debian packages: resolving the library closure of ${ROOTS[*]}"
declare -A seen=()
level=("${ROOTS[@]}")
for p in "${ROOTS[@]}"; do seen[$p]=1; done
while ((${#level[@]})); do
	deps=$(depends "${level[@]}")
	level=()
	for d in $deps; do
		[[ $d == lib* || $d == zlib1g || $d == gcc-*-base ]] || continue
		[[ -n ${seen[$d]:-} ]] && continue
		seen[$d]=1
		level+=("$d")
	done
done
mapfile -t PKGS < <(printf '%s\n' "${!seen[@]}" | sort)

# debfile PKG: the .deb of PKG already in $DEBS, if any (newest version).
debfile() {
	local f
	f=$(find "$DEBS" -maxdepth 1 -name "${1}_*.deb" | sort -V | tail -n1)
	printf '%s' "$f"
}

missing=()
for p in "${PKGS[@]}"; do
	[[ -n $(debfile "$p") ]] || missing+=("$p")
done
if ((${#missing[@]})); then
	log ">> apt-get download (${#missing[@]} packages into $DEBS)"
	opts=()
	# As root, apt drops to the _apt user, which cannot write into a cache
	# under /root; download as root instead of warning about it.
	[[ $(id -u) == 0 ]] && opts=(-o APT::Sandbox::User=root)
	(cd "$DEBS" && apt-get download -q "${opts[@]}" "${missing[@]}" >/dev/null)
fi

log ">> dpkg-deb -x (${#PKGS[@]} packages into $ROOT)"
tmp="$ROOT.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
for p in "${PKGS[@]}"; do
	f=$(debfile "$p")
	[[ -n $f ]] || die "no .deb for $p after apt-get download"
	dpkg-deb -x "$f" "$tmp/$p"
	dpkg-deb -f "$f" >"$tmp/$p.control"
done
printf '%s\n' "$RECIPE" >"$tmp/.stamp"
rm -rf "$ROOT"
mv "$tmp" "$ROOT"
log ">> debian packages: $(du -sh "$DEBS" | cut -f1) of .debs, extracted into $ROOT"
