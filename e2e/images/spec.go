package main

// The images `make images` builds and what goes into them.

// Repository is the repository part of every image name.
const Repository = "toposuite"

// Image kinds.
const (
	kindSuite   = "suite"   // a static binary of the suite (bin/<name>)
	kindPause   = "pause"   // the pod sandbox (e2e/images/pause)
	kindBusybox = "busybox" // a shell for the end-to-end pods
)

// imageSpec describes one image.
type imageSpec struct {
	Name string // image name without repository, and the binary's name
	Kind string
	// Node images also carry the storage tools (nodeCommands and their
	// libraries, from Debian packages) and run as root.
	Node bool
	User string
}

// Users: node images must be root (LVM, mount, device nodes); the others
// need no privilege and run as "nonroot" (in /etc/passwd of every suite
// image); pause runs as 65535 like the upstream pause image.
const (
	userRoot    = "0:0"
	userNonroot = "65532:65532"
	userPause   = "65535:65535"
)

// Specs lists every image, in build order.
var Specs = []imageSpec{
	{Name: "topolvm-controller", Kind: kindSuite, User: userNonroot},
	{Name: "topolvm-node", Kind: kindSuite, Node: true, User: userRoot},
	{Name: "topols-node", Kind: kindSuite, Node: true, User: userRoot},
	{Name: "lvmd", Kind: kindSuite, Node: true, User: userRoot},
	{Name: "btrfsd", Kind: kindSuite, Node: true, User: userRoot},
	{Name: "topolvm-scheduler", Kind: kindSuite, User: userNonroot},
	// The operator's image also runs the node agent (topolvm-operator
	// agent: lsblk, wipefs and lvm through nsenter, as root by its pod's
	// securityContext), hence the node tools; the operator itself stays
	// nonroot.
	{Name: "topolvm-operator", Kind: kindSuite, Node: true, User: userNonroot},
	{Name: "pause", Kind: kindPause, User: userPause},
	{Name: "busybox", Kind: kindBusybox, User: userRoot},
}

// binDir is where the suite binaries are in their images.
const binDir = "/usr/local/bin"

// imagePATH is the PATH of every image (Debian's for root).
const imagePATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// nodeCommands are the commands the node images carry, each with its aliases
// and libraries. What runs them: lvmd and btrfsd (lvm, losetup, lsblk,
// wipefs, findmnt, mount, mkfs.btrfs, btrfs, mkdir, truncate, nsenter when
// they run the tools in the host), the node plugins through k8s.io/mount-utils
// (mount, umount, blkid, fsck, mkfs.<fs>, resize2fs, xfs_growfs, btrfs,
// blockdev) and people debugging a node (the rest; `kubectl exec ... -- lvm
// vgs` needs no shell). No shell: busybox's would run its own applets for
// mount, blkid... instead of these.
var nodeCommands = []string{
	// e2fsprogs
	"mke2fs", "mkfs.ext4", "e2fsck", "fsck.ext4", "resize2fs", "tune2fs", "dumpe2fs",
	// xfsprogs
	"mkfs.xfs", "xfs_growfs", "xfs_repair", "xfs_io",
	// btrfs-progs
	"btrfs", "mkfs.btrfs",
	// util-linux
	"blkid", "blockdev", "fsck", "lsblk", "findmnt", "wipefs", "nsenter",
	// mount
	"mount", "umount", "losetup",
	// lvm2 (lvcreate, vgs... are its aliases), dmsetup
	"lvm", "dmsetup",
	// coreutils (lvmd's and btrfsd's prepare make loop files)
	"mkdir", "truncate",
}

// nodeFiles are copied as they are (directories with their content).
var nodeFiles = []string{
	"/etc/lvm/lvm.conf", "/etc/lvm/lvmlocal.conf", "/etc/lvm/profile", // lvm2
	"/etc/mke2fs.conf",                       // e2fsprogs
	"/etc/os-release", "/etc/debian_version", // base-files
}

// nodeLibraries are loaded with dlopen, so no DT_NEEDED names them:
// glibc loads libgcc_s for pthread_cancel and thread exit unwinding.
var nodeLibraries = []string{"libgcc_s.so.1"}
