#!/usr/bin/env bash
# Builds what the VM lane boots (docs/testing.md, "The VM lane"): a stock
# Debian kernel and a small base initramfs, from Debian packages only, into a
# cache directory. The host kernel has no device-mapper; this kernel has all
# of it (thin pools, snapshots, RAID), so LVM runs there as in production.
#
# Output in $TOPOSUITE_VM_DIR (default ~/.cache/toposuite/vm):
#   vmlinuz         bookworm's cloud kernel (linux-image-cloud-amd64)
#   initramfs.img   a newc cpio archive: busybox, lvm, thin_check & co, the
#                   mkfs/mount tools (ext4, xfs, btrfs), the
#                   dm/raid/virtio/loop/xfs/btrfs/virtio_net modules,
#                   lvm.conf and /init (e2e/vm/init)
#   stamp           hash of this script and of init; a different hash rebuilds
#
# The assets are rebuilt only when missing or when this script or init
# changed (FORCE=1 rebuilds anyway). Missing packages are installed as root.
set -euo pipefail

VM_DIR=${TOPOSUITE_VM_DIR:-${HOME}/.cache/toposuite/vm}
FORCE=${FORCE:-0}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LC_ALL=C PATH=$PATH:/usr/sbin:/sbin

log() { printf '>> %s\n' "$*"; }
die() { printf 'build-assets.sh: %s\n' "$*" >&2; exit 1; }

stamp=$(cat "$HERE/build-assets.sh" "$HERE/init" | sha256sum | cut -c1-16)
if [[ $FORCE != 1 && -f $VM_DIR/vmlinuz && -f $VM_DIR/initramfs.img && -f $VM_DIR/stamp &&
	$(cat "$VM_DIR/stamp") == "$stamp" ]]; then
	log "VM assets up to date in $VM_DIR"
	exit 0
fi
start=$SECONDS

# --- Debian packages on the host -------------------------------------------
# qemu runs the VM; busybox-static is the guest's userland; kmod runs depmod;
# cpio packs the initramfs; the others provide the tools copied into it.
PACKAGES=(qemu-system-x86 busybox-static kmod cpio lvm2 xfsprogs e2fsprogs btrfs-progs util-linux)
missing=()
for p in "${PACKAGES[@]}"; do
	[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
	[[ $(id -u) == 0 ]] || die "not root: install ${missing[*]} yourself"
	log "installing Debian packages: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- the kernel and thin-provisioning-tools, downloaded, never installed ---
# linux-image-cloud-amd64 is a meta package; its dependency names the
# current kernel package. The cloud flavour is small and has virtio, dm and
# raid as modules.
kernel_package() {
	local cand
	cand=$(apt-cache policy linux-image-cloud-amd64 2>/dev/null | awk '$1 == "Candidate:" {print $2}')
	[[ -n $cand && $cand != "(none)" ]] || return 1
	apt-cache show "linux-image-cloud-amd64=$cand" | awk -F'[ ,]+' '$1 == "Depends:" {print $2; exit}'
}
kpkg=$(kernel_package || true)
if [[ -z $kpkg ]]; then
	[[ $(id -u) == 0 ]] || die "apt-cache knows no linux-image-cloud-amd64: run apt-get update as root"
	apt-get update -qq
	kpkg=$(kernel_package) || die "apt-cache knows no linux-image-cloud-amd64"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/toposuite-vm-assets.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/dl"
# apt-get download drops privileges to _apt, which must be able to write here.
chmod 755 "$work"
chown _apt: "$work/dl" 2>/dev/null || chmod 777 "$work/dl"
log "downloading $kpkg and thin-provisioning-tools"
download() { (cd "$work/dl" && apt-get download -q=2 "$kpkg" thin-provisioning-tools); }
if ! download; then
	# Package lists older than the mirror name files it no longer has.
	[[ $(id -u) == 0 ]] || die "apt-get download failed: run apt-get update as root"
	apt-get update -qq
	kpkg=$(kernel_package) || die "apt-cache knows no linux-image-cloud-amd64"
	download
fi
dpkg-deb -x "$work"/dl/linux-image-*.deb "$work/kernel"
dpkg-deb -x "$work"/dl/thin-provisioning-tools_*.deb "$work/thin"
kver=$(basename "$(ls -d "$work"/kernel/lib/modules/*)")

# --- the root of the initramfs ----------------------------------------------
# The same merged-/usr layout as the host, so that libraries keep the paths
# the loader and ldd use.
root=$work/root
mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,dev,proc,sys,run,tmp,mnt,root,etc/lvm,toposuite}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done

# copy_file SRC [DEST]: SRC's content (symlinks followed) at DEST inside the
# root, DEST defaulting to SRC's own path.
copy_file() {
	local dest=$root${2:-$1}
	mkdir -p "$(dirname "$dest")"
	cp -L "$1" "$dest"
}

# copy_bin PATH [DEST]: a dynamically linked program with every library ldd
# lists, each at the path ldd shows.
copy_bin() {
	copy_file "$@"
	local libs lib
	libs=$(ldd "$1") || die "ldd $1 failed"
	[[ $libs != *"not found"* ]] || die "$1 needs a library the host lacks: $libs"
	for lib in $(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$libs"); do
		[[ -e $root$lib ]] || copy_file "$lib"
	done
}

log "initramfs: lvm, filesystem and block tools from the host"
copy_bin /usr/sbin/lvm
# The lvm command names (lvcreate, pvs, ...) are symlinks to lvm, as on the host.
for f in /usr/sbin/*; do
	[[ -L $f && $(readlink "$f") == lvm ]] && ln -s lvm "$root/usr/sbin/$(basename "$f")"
done
copy_bin /usr/sbin/dmsetup
for p in mke2fs resize2fs e2fsck mkfs.xfs xfs_growfs mkfs.btrfs btrfs blkid wipefs blkdiscard losetup blockdev; do
	copy_bin "$(command -v "$p")" "/usr/sbin/$p"
done
# Tests parse GNU df's --output, which busybox's df lacks.
copy_bin /usr/bin/df
ln -s mke2fs "$root/usr/sbin/mkfs.ext4"
ln -s e2fsck "$root/usr/sbin/fsck.ext4"
# util-linux's mount understands every option the tests and mount-utils pass.
copy_bin /usr/bin/mount
copy_bin /usr/bin/umount
copy_file /etc/mke2fs.conf

# thin_check and the other pdata_tools: LVM runs thin_check on every thin
# pool activation and warns without it.
copy_bin "$work/thin/usr/sbin/pdata_tools" /usr/sbin/pdata_tools
for f in "$work"/thin/usr/sbin/*; do
	[[ -L $f ]] && ln -s pdata_tools "$root/usr/sbin/$(basename "$f")"
done

# busybox for everything else; an applet never hides a host tool copied above.
cp /bin/busybox "$root/usr/bin/busybox"
while read -r applet; do
	name=$(basename "$applet")
	[[ -e $root/usr/bin/$name || -e $root/usr/sbin/$name || -L $root/usr/sbin/$name ]] && continue
	ln -s /usr/bin/busybox "$root/usr/bin/$name"
done < <("$root/usr/bin/busybox" --list)
# The kernel (request_module) and LVM call /sbin/modprobe to load dm targets.
ln -s /usr/bin/busybox "$root/usr/sbin/modprobe"

# --- modules: only what the lane needs, with their dependencies -------------
# unsign KO: drops the signature Debian appends to each module. The kernel
# hashes a signed module's whole file when it loads it, and sha256 under TCG
# is ~40x slower than on the host: xfs.ko alone took 5 s to load. Unsigned,
# it loads at once (the kernel notes an unsigned module; nothing enforces
# signatures in this kernel).
unsign() {
	local marker='~Module signature appended~' size siglen
	[[ $(tail -c 28 "$1" | head -c 27) == "$marker" ]] || return 0
	size=$(stat -c %s "$1")
	# struct module_signature (12 bytes) precedes the marker; its last
	# field is the signature's length, big-endian.
	siglen=$(tail -c 32 "$1" | head -c 4 | od -An -tu1 | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
	truncate -s $((size - 40 - siglen)) "$1"
}

MODULES=(virtio_pci virtio_blk loop dm_mod dm_thin_pool dm_snapshot dm_mirror dm_raid raid1 raid10 raid456)
# Packed, not loaded at boot: xfs takes seconds to load under TCG, and the
# kernel loads it through /sbin/modprobe when xfs (or btrfs) is first
# mounted. virtio_net is loaded by init only when the harness gives the VM
# a network (toposuite.net=1), so that boots without one stay as fast.
LAZY_MODULES=(xfs btrfs virtio_net)
depmod -b "$work/kernel" "$kver"
log "initramfs: modules of $kver"
for m in "${MODULES[@]}" "${LAZY_MODULES[@]}"; do
	modprobe -d "$work/kernel" -S "$kver" --show-depends "$m"
done | awk '$1 == "insmod" {print $2}' | sort -u | while read -r ko; do
	copy_file "$ko" "${ko#"$work/kernel"}"
	unsign "$root${ko#"$work/kernel"}"
done
cp "$work"/kernel/lib/modules/"$kver"/modules.{order,builtin}* "$root/lib/modules/$kver/" 2>/dev/null || true
depmod -b "$root" "$kver"
printf '%s\n' "${MODULES[@]}" >"$root/etc/modules"

# --- configuration ------------------------------------------------------------
# No udev in the guest: LVM and libdevmapper make the /dev nodes themselves;
# no dmeventd, lvmpolld or D-Bus either.
cat >"$root/etc/lvm/lvm.conf" <<'EOF'
devices { obtain_device_list_from_udev=0 use_devicesfile=0 scan_lvs=0 }
global { use_aio=0 notify_dbus=0 use_lvmpolld=0 event_activation=0 }
activation { udev_sync=0 udev_rules=0 monitoring=0 }
backup { backup=0 archive=0 }
EOF
cp -r /etc/lvm/profile "$root/etc/lvm/profile"
ln -s /proc/self/mounts "$root/etc/mtab"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
install -m 0755 "$HERE/init" "$root/init"

# --- pack ---------------------------------------------------------------------
# Not compressed: the kernel unpacks it on every boot under TCG, where even
# gzip -1 (11 MiB instead of 27) made the boot about a second slower.
log "packing the initramfs"
(cd "$root" && find . | sort | cpio -o -H newc -R 0:0 --quiet) >"$work/initramfs.img"
mkdir -p "$VM_DIR"
rm -f "$VM_DIR/stamp"
cp "$work"/kernel/boot/vmlinuz-* "$VM_DIR/vmlinuz.tmp"
mv "$VM_DIR/vmlinuz.tmp" "$VM_DIR/vmlinuz"
mv "$work/initramfs.img" "$VM_DIR/initramfs.img"
echo "$kpkg" >"$VM_DIR/kernel-package"
echo "$stamp" >"$VM_DIR/stamp"
log "VM assets built in $((SECONDS - start)) s: $VM_DIR ($kpkg, initramfs $(du -h "$VM_DIR/initramfs.img" | cut -f1))"
