package disk

import "strings"

// Verdict is what a preparer (lvmd prepare, btrfsd prepare) may do with a
// device that its configuration declares for new storage.
type Verdict string

// Verdicts.
const (
	// VerdictUse: the device is blank and free; use it as it is.
	VerdictUse Verdict = "use"
	// VerdictWipe: only signatures stand in the way and the device is
	// listed under wipe: erase them, then use it.
	VerdictWipe Verdict = "wipe"
	// VerdictRefuse: the device must not be used; Decision.Reason says why.
	VerdictRefuse Verdict = "refuse"
)

// Wipeable reports whether erasing the device's signatures cures the
// reason. Everything else (mounted, used by another device, an LVM physical
// volume, read-only, too small, unreadable, and any code a caller adds)
// blocks the device even when it is listed under wipe: wiping a mounted
// filesystem or an LVM physical volume loses data.
func (c ReasonCode) Wipeable() bool {
	return c == ReasonFilesystem || c == ReasonSignature || c == ReasonPartitioned
}

// DecideOptions are what the caller knows beyond the device itself.
type DecideOptions struct {
	// MinSize in bytes; smaller devices are refused.
	MinSize int64
	// Wipe says whether the configuration lists the device under wipe.
	Wipe bool
	// Ignore lists reason codes the caller accepts, e.g. lvmd accepts a
	// physical volume in no volume group, which joins one as it is.
	Ignore []ReasonCode
	// Extra are reasons the caller found itself (btrfsd: a device of a
	// mounted multi-device filesystem); they are judged like Assess's.
	Extra []Reason
}

// Decision is the verdict on one declared device.
type Decision struct {
	Verdict Verdict
	// Reason says why, for people: "blank", the refusal reasons, or what
	// wiping erases.
	Reason string
	// Problems are the reasons found, blocking ones first; empty when the
	// device is blank.
	Problems []Reason
	// Wiped lists the signature types that wiping erases (VerdictWipe).
	Wiped []string
}

// Decide judges a device that a configuration names for new storage. The
// rules are the same for every preparer: a device with signatures is used
// only when it is listed under wipe, and a device that is mounted, in use,
// an LVM physical volume, read-only, too small or unreadable never is.
func Decide(info Info, o DecideOptions) Decision {
	// The device was named in the configuration, so loop devices and the
	// like are what the administrator wants: only size and content count.
	all := Assess(info, Criteria{MinSize: o.MinSize, IncludeLoop: true, IncludeRAM: true, IncludeROM: true})
	all = append(all, o.Extra...)
	var blocking, curable []Reason
	for _, r := range all {
		switch {
		case ignored(r.Code, o.Ignore):
		case r.Code.Wipeable():
			curable = append(curable, r)
		default:
			blocking = append(blocking, r)
		}
	}
	problems := append(append([]Reason(nil), blocking...), curable...)
	switch {
	case len(blocking) > 0:
		reason := JoinReasons(blocking)
		if o.Wipe {
			reason += "; it is listed under wipe, but wiping only erases signatures of a device that is otherwise free"
		}
		return Decision{Verdict: VerdictRefuse, Reason: reason, Problems: problems}
	case len(curable) > 0 && !o.Wipe:
		return Decision{Verdict: VerdictRefuse, Reason: JoinReasons(curable) + "; list it under wipe to erase its signatures", Problems: problems}
	case len(curable) > 0:
		var wiped []string
		for _, s := range info.Signatures {
			wiped = append(wiped, s.Type)
		}
		return Decision{Verdict: VerdictWipe, Reason: "listed under wipe: " + JoinReasons(curable), Problems: problems, Wiped: wiped}
	}
	return Decision{Verdict: VerdictUse, Reason: "blank"}
}

func ignored(c ReasonCode, list []ReasonCode) bool {
	for _, x := range list {
		if c == x {
			return true
		}
	}
	return false
}

// JoinReasons renders reasons as one sentence for reports and errors.
func JoinReasons(rs []Reason) string {
	msgs := make([]string, len(rs))
	for i, r := range rs {
		msgs[i] = r.Message
	}
	return strings.Join(msgs, "; ")
}
