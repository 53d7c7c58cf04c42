package storage

import (
	"errors"
	"fmt"
	"regexp"
)

// ErrOwnedByAnother: the volume belongs to another object than the one the
// request acts for. It is a precondition failure, named apart so that a
// caller can tell "not yours" from "not now": an object that never owned the
// volume may go without touching it.
var ErrOwnedByAnother = errors.New("owned by another object")

// Claim says on whose behalf a request creates, grows or removes a volume.
// Each volume records the UID of the Kubernetes object (a LogicalVolume)
// that created it, so that a second object naming the same volume can
// neither adopt it nor, by being deleted, remove it.
type Claim struct {
	// OwnerUID is the UID of the object the request acts for. Empty means
	// a caller that acts for no object (inline ephemeral volumes, which the
	// node plugin names after the pod's volume handle, and administrators);
	// such requests are not checked.
	OwnerUID string
	// AdoptUnowned lets the request act on a volume that records no owner
	// (made before volumes recorded theirs) as its owner's. The node plugin
	// sets it only for an object that the volume was already reported to.
	AdoptUnowned bool
}

// ownerUIDPattern is what a Kubernetes UID looks like, with room for other
// opaque identifiers; it keeps an owner a safe LVM tag and xattr value.
var ownerUIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)

// ValidateOwnerUID checks an owner UID given in a request.
func ValidateOwnerUID(uid string) error {
	if uid != "" && !ownerUIDPattern.MatchString(uid) {
		return Errorf(ErrInvalid, "owner UID %q must be 1-64 letters, digits and dashes", uid)
	}
	return nil
}

// Check returns nil when the request may act on volume name, whose recorded
// owner is have ("" when it records none), and ErrOwnedByAnother otherwise.
func (c Claim) Check(name, have string) error {
	switch {
	case c.OwnerUID == "" || have == c.OwnerUID:
		return nil
	case have == "" && c.AdoptUnowned:
		return nil
	case have == "":
		return Errorf(ErrOwnedByAnother, "volume %q records no owner, so it is not the volume of object %s: it was made before volumes recorded their owner, or outside the suite", name, c.OwnerUID)
	}
	return Errorf(ErrOwnedByAnother, "volume %q belongs to object %s, not to object %s", name, have, c.OwnerUID)
}

// String names the claim in logs.
func (c Claim) String() string {
	if c.OwnerUID == "" {
		return "no owner"
	}
	return fmt.Sprintf("owner %s", c.OwnerUID)
}
