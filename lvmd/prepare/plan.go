package prepare

import (
	"strings"

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

// wipeable are the reasons that erasing signatures cures. Everything else
// (mounted, used by device-mapper, a physical volume of another VG, read
// only, too small, unreadable) blocks the device even when it is listed
// under wipe: wiping a mounted filesystem or another VG's PV loses data.
var wipeable = map[disk.ReasonCode]bool{
	disk.ReasonFilesystem:  true,
	disk.ReasonSignature:   true,
	disk.ReasonPartitioned: true,
}

// decision is the plan for one device.
type decision struct {
	action Action
	reason string
	// problems are the reasons found, for the report.
	problems []disk.Reason
}

// decide plans what to do with a declared device of volume group vg.
// wipe says whether the configuration lists it under wipe.
func decide(info disk.Info, vg string, wipe bool, minSize int64) decision {
	if info.PV != nil && info.PV.VolumeGroup == vg {
		return decision{action: ActionKeep, reason: "already a physical volume of " + vg}
	}
	// The device was named in the configuration, so loop devices and the
	// like are what the administrator wants: only size and content count.
	all := disk.Assess(info, disk.Criteria{MinSize: minSize, IncludeLoop: true, IncludeRAM: true, IncludeROM: true})
	orphan := info.PV != nil && info.PV.VolumeGroup == ""
	var blocking, curable []disk.Reason
	for _, r := range all {
		switch {
		case r.Code == disk.ReasonLVMPhysicalVolume && orphan:
			// A physical volume in no volume group joins one as it is.
		case wipeable[r.Code]:
			curable = append(curable, r)
		default:
			blocking = append(blocking, r)
		}
	}
	problems := append(append([]disk.Reason(nil), blocking...), curable...)
	switch {
	case len(blocking) > 0:
		reason := joinReasons(blocking)
		if wipe {
			reason += "; it is listed under wipe, but wiping only erases signatures of a device that is otherwise free"
		}
		return decision{action: ActionRefuse, reason: reason, problems: problems}
	case len(curable) > 0 && !wipe:
		return decision{action: ActionRefuse, reason: joinReasons(curable) + "; list it under wipe to erase its signatures", problems: problems}
	case len(curable) > 0:
		return decision{action: ActionWipeAndAdd, reason: "listed under wipe: " + joinReasons(curable), problems: problems}
	case orphan:
		return decision{action: ActionAdd, reason: "already a physical volume in no volume group; used as it is"}
	}
	return decision{action: ActionAdd, reason: "blank"}
}

func joinReasons(rs []disk.Reason) string {
	msgs := make([]string, len(rs))
	for i, r := range rs {
		msgs[i] = r.Message
	}
	return strings.Join(msgs, "; ")
}
