package prepare

import (
	"github.com/toposuite/toposuite/internal/disk"
)

// Action is what prepare does (or, in a dry run, would do) with a device.
type Action string

// Actions.
const (
	// ActionKeep: already a physical volume of the volume group.
	ActionKeep Action = "keep"
	// ActionAdd: make it a physical volume and add it to the volume group.
	ActionAdd Action = "add"
	// ActionWipeAndAdd: erase its signatures (it is listed under wipe),
	// then add it.
	ActionWipeAndAdd Action = "wipeAndAdd"
	// ActionRefuse: the device cannot be used; Reason says why.
	ActionRefuse Action = "refuse"
	// ActionLeaveInPlace: a physical volume of the volume group that is no
	// longer declared. Prepare never removes one: that could lose data.
	ActionLeaveInPlace Action = "leaveInPlace"
	// ActionAttach: a dry run found the loop file not attached; the device
	// it will get is checked when it is.
	ActionAttach Action = "attach"
)

// changes reports whether the action adds the device to the volume group.
func (a Action) changes() bool {
	return a == ActionAdd || a == ActionWipeAndAdd || a == ActionAttach
}

// decision is the plan for one device.
type decision struct {
	action Action
	reason string
	// problems are the reasons found, for the report.
	problems []disk.Reason
	// wiped lists the signature types that wiping erases.
	wiped []string
}

// decide plans what to do with a declared device of volume group vg.
// wipe says whether the configuration lists it under wipe. The refusal
// rules are disk.Decide's, shared with btrfsd prepare; what is LVM's own
// is that a member of vg is kept and an orphan PV joins as it is.
func decide(info disk.Info, vg string, wipe bool, minSize int64) decision {
	if info.PV != nil && info.PV.VolumeGroup == vg {
		return decision{action: ActionKeep, reason: "already a physical volume of " + vg}
	}
	o := disk.DecideOptions{MinSize: minSize, Wipe: wipe}
	orphan := info.PV != nil && info.PV.VolumeGroup == ""
	if orphan {
		// A physical volume in no volume group joins one as it is.
		o.Ignore = []disk.ReasonCode{disk.ReasonLVMPhysicalVolume}
	}
	d := disk.Decide(info, o)
	switch {
	case d.Verdict == disk.VerdictRefuse:
		return decision{action: ActionRefuse, reason: d.Reason, problems: d.Problems}
	case d.Verdict == disk.VerdictWipe:
		return decision{action: ActionWipeAndAdd, reason: d.Reason, problems: d.Problems, wiped: d.Wiped}
	case orphan:
		return decision{action: ActionAdd, reason: "already a physical volume in no volume group; used as it is"}
	}
	return decision{action: ActionAdd, reason: d.Reason}
}
