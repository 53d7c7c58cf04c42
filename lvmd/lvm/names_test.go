package lvm

import (
	"errors"
	"strings"
	"testing"

	"github.com/toposuite/toposuite/internal/storage"
)

func TestValidateName(t *testing.T) {
	good := []string{"pvc-0f2c", "a", "A.b+c_d-e", strings.Repeat("x", MaxNameLen), "snap-of-x"}
	bad := []string{"", "a/b", "a b", `a"b`, "a'b", "-a", ".", "..", "snapshot1", "pvmove0", "x_tmeta", "y_rimage_0",
		strings.Repeat("x", MaxNameLen+1), "a\x00b", "ä", "a\nb", "a;b", "$(x)"}
	for _, n := range good {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q) = %v, want ok", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidateName(n); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalid", n, err)
		}
	}
}

func TestClassifyLVMErrors(t *testing.T) {
	cases := map[string]error{
		`  Logical Volume "lv1" already exists in volume group "tvg"`:                    storage.ErrExists,
		`  Volume group "tvg" has insufficient free space (230 extents): 2560 required.`: storage.ErrNoSpace,
		`  Failed to find logical volume "tvg/nothere"`:                                  storage.ErrNotFound,
		`  Volume group "novg" not found`:                                                storage.ErrNotFound,
		`  New size given (25 extents) not larger than existing size (50 extents)`:       storage.ErrPrecondition,
		`  Can't create thin-pool without using device-mapper kernel driver.`:            storage.ErrPrecondition,
		`  striped: Required device-mapper target(s) not detected in your kernel.`:       storage.ErrPrecondition,
		// lvextend --alloc contiguous with the next extents taken (lvm2 2.03.16).
		`  Insufficient suitable contiguous allocatable extents for logical volume a: 4 more required`: storage.ErrPrecondition,
		// lvcreate -i 2 with one PV's room left, and -i 3 on two PVs (lvm2 2.03.16).
		`  Insufficient suitable allocatable extents for logical volume s: 6 more required`: storage.ErrNoSpace,
		`  Number of stripes (3) must not exceed number of physical volumes (2)`:            storage.ErrNoSpace,
	}
	for stderr, kind := range cases {
		err := classify(exitErr(5, "  WARNING: Activation disabled. No device-mapper interaction will be attempted.\n"+stderr+"\n"))
		if !errors.Is(err, kind) {
			t.Errorf("%q classified as %v, want %v", stderr, err, kind)
		}
		if !strings.Contains(err.Error(), strings.TrimSpace(stderr)) {
			t.Errorf("message %q lost LVM's words", err)
		}
		if contiguous := strings.Contains(stderr, "contiguous"); errors.Is(err, ErrNoContiguousRoom) != contiguous {
			t.Errorf("%q: errors.Is(ErrNoContiguousRoom) = %v, want %v", stderr, !contiguous, contiguous)
		}
	}
}
