package disk

import (
	"testing"
)

func addSeeds(f *testing.F, files ...string) {
	for _, name := range files {
		f.Add(readTestdata(f, name))
	}
}

func FuzzParseLsblk(f *testing.F) {
	addSeeds(f, "lsblk-all.json", "lsblk-mounted.json", "lsblk-readonly.json", "lsblk-loop.json")
	f.Add([]byte(lsblkTree))
	f.Fuzz(func(t *testing.T, in []byte) {
		devs, err := ParseLsblk(in)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, d := range devs {
			if d.Path == "" || d.Size < 0 || seen[d.Path] {
				t.Fatalf("bad device %+v in %q", d, in)
			}
			seen[d.Path] = true
		}
		// Every child is listed as a device of its own.
		for _, d := range devs {
			for _, c := range d.Children {
				if !seen[c.Path] {
					t.Fatalf("child %s of %s is not listed", c.Path, d.Path)
				}
			}
			_ = Assess(Info{Device: d}, Criteria{MinSize: 1})
		}
	})
}

func FuzzParseWipefs(f *testing.F) {
	addSeeds(f, "wipefs-blank.json", "wipefs-ext4.json", "wipefs-dos.json", "wipefs-lvm2-member.json",
		"wipefs-ext4-and-dos.json", "wipefs-swap.json")
	f.Fuzz(func(t *testing.T, in []byte) {
		sigs, err := ParseWipefs(in)
		if err != nil {
			return
		}
		for _, s := range sigs {
			if s.Type == "" {
				t.Fatalf("signature without a type in %q", in)
			}
		}
		info := Info{Device: Device{Path: "/dev/x", Size: 1 << 30}, Signatures: sigs}
		if len(sigs) > 0 && len(Assess(info, Criteria{})) == 0 {
			t.Fatalf("a device with signatures %v is free", sigs)
		}
	})
}

func FuzzParseLosetup(f *testing.F) {
	addSeeds(f, "losetup-associated.json", "losetup-associated-none.json")
	f.Fuzz(func(t *testing.T, in []byte) {
		loops, err := ParseLosetup(in)
		if err != nil {
			return
		}
		for _, l := range loops {
			if l.Path == "" || l.Offset < 0 || l.SizeLimit < 0 {
				t.Fatalf("bad loop device %+v in %q", l, in)
			}
		}
	})
}
