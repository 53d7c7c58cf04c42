package prepare

import (
	"fmt"
	"strings"

	"github.com/toposuite/toposuite/btrfsd/config"
	"github.com/toposuite/toposuite/internal/disk"
)

// Reason codes prepare adds to disk's. None is wipeable: each protects a
// filesystem that wiping would break.
const (
	// ReasonNotAMember: the pool path is a mounted btrfs filesystem and
	// the device is not one of its devices.
	ReasonNotAMember disk.ReasonCode = "notAMember"
	// ReasonPartlyDeclared: a device of a multi-device btrfs filesystem
	// whose other devices are not all declared.
	ReasonPartlyDeclared disk.ReasonCode = "partlyDeclared"
	// ReasonIncomplete: a device of a btrfs filesystem with devices missing.
	ReasonIncomplete disk.ReasonCode = "incompleteFilesystem"
	// ReasonPoolFilesystem: the device holds this pool's filesystem (by
	// its label), which the declared devices do not match.
	ReasonPoolFilesystem disk.ReasonCode = "poolFilesystem"
)

const typeBtrfs = "btrfs"

// step is what apply does for a pool.
type step int

const (
	stepRefuse step = iota
	stepNothing
	stepMount
	stepCreate
)

// poolPlan is the decision for one pool; the devices' own decisions are in
// their reports.
type poolPlan struct {
	step step
	// reason is set when the pool path itself is refused.
	reason string
	// fs is the pool's filesystem when it exists: mounted at the path, or
	// about to be.
	fs *Filesystem
	// left are the undeclared devices of the mounted filesystem.
	left []DeviceReport
}

// plan decides what to do with a pool from what was found; it runs nothing.
func plan(pool config.Pool, devs []*device, st state) poolPlan {
	if st.atPath != nil {
		return planMounted(pool, devs, *st.atPath)
	}
	pl := planUnmounted(pool, devs, st)
	if st.mount != nil {
		// Something else is mounted at the path: mounting over it would
		// hide it from whoever uses it.
		pl.step = stepRefuse
		pl.reason = fmt.Sprintf("is a mount point already, of %s from %s, not of a btrfs filesystem", st.mount.FSType, st.mount.Source)
	}
	return pl
}

// planMounted: the pool path is a mounted btrfs filesystem. Its devices
// are kept whatever they look like (they are in use, by the pool); a
// declared device that is not one of them is refused, since prepare does
// not add devices to a filesystem.
func planMounted(pool config.Pool, devs []*device, fs Filesystem) poolPlan {
	pl := poolPlan{step: stepNothing, fs: &fs}
	declared := map[string]bool{}
	for _, d := range devs {
		declared[d.path] = true
		if !d.ok {
			pl.step = stepRefuse
			continue
		}
		declared[d.info.Path] = true
		if sig, ok := btrfsSignature(d.info); ok && sig.UUID == fs.UUID {
			d.report.Action, d.report.Reason = ActionKeep, "a device of the btrfs filesystem mounted at "+pool.Path
			continue
		}
		msg := fmt.Sprintf("is not a device of the btrfs filesystem %s mounted at %s; prepare does not add devices to an existing filesystem (btrfs device add does)",
			fs.describe(), pool.Path)
		refuse(d, disk.Reason{Code: ReasonNotAMember, Message: msg})
		pl.step = stepRefuse
	}
	for _, m := range fs.Devices {
		if !declared[m.Path] {
			pl.left = append(pl.left, DeviceReport{Device: m.Path, Action: ActionLeaveInPlace,
				Reason: "a device of the pool's filesystem that is no longer declared; left in place (remove it with btrfs device remove if that is what you want)"})
		}
	}
	return pl
}

// planUnmounted: nothing btrfs is mounted at the path. When the declared
// devices hold one btrfs filesystem it is mounted, otherwise one is made.
func planUnmounted(pool config.Pool, devs []*device, st state) poolPlan {
	if uuid := commonFilesystem(devs); uuid != "" {
		return planExisting(pool, devs, st, uuid)
	}
	return planCreate(pool, devs, st)
}

// commonFilesystem returns the UUID of the btrfs filesystem every readable
// declared device holds, or "" when they do not all hold the same one.
func commonFilesystem(devs []*device) string {
	uuid := ""
	for _, d := range devs {
		if !d.ok {
			continue
		}
		sig, ok := btrfsSignature(d.info)
		if !ok || (uuid != "" && sig.UUID != uuid) {
			return ""
		}
		uuid = sig.UUID
	}
	return uuid
}

// planExisting: every declared device holds filesystem uuid. It is mounted
// when those are all its devices, all present, and it is not mounted
// elsewhere. Its devices are judged without its own signature, by the
// same rules otherwise; none is ever wiped.
func planExisting(pool config.Pool, devs []*device, st state, uuid string) poolPlan {
	fs, known := st.known[uuid]
	holders := 0
	label := ""
	for _, d := range devs {
		if d.ok {
			holders++
			sig, _ := btrfsSignature(d.info)
			label = sig.Label
		}
	}
	pl := poolPlan{step: stepMount, fs: &fs}
	var whole *disk.Reason
	switch {
	case !known:
		// Seen by wipefs but not by btrfs: a damaged superblock, or the
		// device changed in between. Nothing to do safely.
		pl.fs = &Filesystem{UUID: uuid, Label: label}
		whole = &disk.Reason{Code: ReasonIncomplete, Message: fmt.Sprintf("holds btrfs filesystem %s, which btrfs filesystem show does not list", describeFS(uuid, label))}
	case st.mounted[uuid]:
		whole = &disk.Reason{Code: disk.ReasonMounted, Message: fmt.Sprintf("holds btrfs filesystem %s, which is mounted, but not at %s", fs.describe(), pool.Path)}
	case !fs.Complete():
		whole = &disk.Reason{Code: ReasonIncomplete, Message: fmt.Sprintf("is a device of btrfs filesystem %s, which has %d of its %d devices present: mount it degraded or repair it by hand",
			fs.describe(), len(fs.Devices), fs.TotalDevices)}
	case fs.TotalDevices > holders:
		whole = &disk.Reason{Code: ReasonPartlyDeclared, Message: partlyDeclared(fs, devs)}
	}
	for _, d := range devs {
		if !d.ok {
			pl.step = stepRefuse
			continue
		}
		if whole != nil {
			refuse(d, *whole)
			pl.step = stepRefuse
			continue
		}
		dec := disk.Decide(withoutSignature(d.info, uuid), disk.DecideOptions{MinSize: minSize(pool)})
		if dec.Verdict != disk.VerdictUse {
			refuse(d, dec.Problems...)
			d.report.Reason = "holds the btrfs filesystem to mount, but " + disk.JoinReasons(dec.Problems)
			pl.step = stepRefuse
			continue
		}
		d.report.Action, d.report.Reason = ActionKeep, "holds the pool's btrfs filesystem "+fs.describe()
	}
	return pl
}

// planCreate judges each device for a new filesystem.
func planCreate(pool config.Pool, devs []*device, st state) poolPlan {
	pl := poolPlan{step: stepCreate}
	for _, d := range devs {
		if !d.ok {
			pl.step = stepRefuse
			continue
		}
		dec := disk.Decide(d.info, disk.DecideOptions{MinSize: minSize(pool), Wipe: d.wipe, Extra: btrfsReasons(pool, d, devs, st)})
		d.report.Reason, d.report.Problems = dec.Reason, dec.Problems
		switch dec.Verdict {
		case disk.VerdictUse:
			d.report.Action = ActionUse
		case disk.VerdictWipe:
			d.report.Action, d.report.Wiped = ActionWipeAndUse, dec.Wiped
		default:
			d.report.Action = ActionRefuse
			pl.step = stepRefuse
		}
	}
	return pl
}

// btrfsReasons are what a btrfs filesystem on d forbids beyond its
// signature, which disk.Decide judges like any filesystem's.
func btrfsReasons(pool config.Pool, d *device, devs []*device, st state) []disk.Reason {
	sig, ok := btrfsSignature(d.info)
	if !ok {
		return nil
	}
	var rs []disk.Reason
	fs, known := st.known[sig.UUID]
	if !known {
		fs = Filesystem{UUID: sig.UUID, Label: sig.Label}
	}
	if st.mounted[sig.UUID] && len(d.info.MountPoints) == 0 {
		// lsblk shows only one device of a mounted multi-device filesystem
		// as mounted; the others are just as busy.
		rs = append(rs, disk.Reason{Code: disk.ReasonMounted, Message: fmt.Sprintf("is a device of btrfs filesystem %s, which is mounted", fs.describe())})
	}
	holders := 0
	for _, o := range devs {
		if s, ok := btrfsSignature(o.info); o.ok && ok && s.UUID == sig.UUID {
			holders++
		}
	}
	switch {
	case !known:
		rs = append(rs, disk.Reason{Code: ReasonPartlyDeclared, Message: fmt.Sprintf("holds btrfs filesystem %s, whose devices btrfs filesystem show does not list", fs.describe())})
	case fs.TotalDevices > holders:
		rs = append(rs, disk.Reason{Code: ReasonPartlyDeclared, Message: partlyDeclared(fs, devs) + ", and wiping this one would break it"})
	}
	if sig.Label == Label(pool.Name) {
		rs = append(rs, disk.Reason{Code: ReasonPoolFilesystem, Message: fmt.Sprintf(
			"holds this pool's btrfs filesystem %s, but the declared devices are not exactly its devices: prepare neither adds devices to it nor wipes it", fs.describe())})
	}
	return rs
}

// partlyDeclared says which devices of fs the pool does not declare.
func partlyDeclared(fs Filesystem, devs []*device) string {
	declared := map[string]bool{}
	for _, d := range devs {
		declared[d.path] = true
		if d.ok {
			declared[d.info.Path] = true
		}
	}
	var others []string
	for _, m := range fs.Devices {
		if !declared[m.Path] {
			others = append(others, m.Path)
		}
	}
	msg := fmt.Sprintf("is one of the %d devices of btrfs filesystem %s", fs.TotalDevices, fs.describe())
	switch len(others) {
	case 0:
		// btrfs names its devices differently from the declaration.
		return msg + "; not all of them are declared"
	case 1:
		return msg + "; " + others[0] + " is not declared"
	}
	return msg + "; " + strings.Join(others, ", ") + " are not declared"
}

func refuse(d *device, problems ...disk.Reason) {
	d.report.Action, d.report.Problems = ActionRefuse, problems
	d.report.Reason = disk.JoinReasons(problems)
}

// btrfsSignature returns the btrfs signature on the device, if any.
func btrfsSignature(info disk.Info) (disk.Signature, bool) {
	for _, s := range info.Signatures {
		if s.Type == typeBtrfs {
			return s, true
		}
	}
	return disk.Signature{}, false
}

func anyBtrfs(devs []*device) bool {
	for _, d := range devs {
		if _, ok := btrfsSignature(d.info); d.ok && ok {
			return true
		}
	}
	return false
}

// withoutSignature returns info without the signature of btrfs filesystem
// uuid, so that the rest of the device can be judged.
func withoutSignature(info disk.Info, uuid string) disk.Info {
	var sigs []disk.Signature
	for _, s := range info.Signatures {
		if s.Type != typeBtrfs || s.UUID != uuid {
			sigs = append(sigs, s)
		}
	}
	info.Signatures = sigs
	if info.FSType == typeBtrfs {
		info.FSType = ""
	}
	return info
}

func minSize(pool config.Pool) int64 {
	return config.Bytes(pool.Filesystem.MinDeviceSize, 0)
}
