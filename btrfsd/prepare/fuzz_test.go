package prepare

import (
	"testing"
)

func FuzzParseFilesystemShow(f *testing.F) {
	for _, name := range []string{"btrfs-show-all.out", "btrfs-show-missing.out", "btrfs-show-mounted.out", "btrfs-show-path.out", "btrfs-show-raid1.out"} {
		f.Add([]byte(testdata(f, name)))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fss, err := ParseFilesystemShow(in)
		if err != nil {
			return
		}
		for _, fs := range fss {
			if !isUUID(fs.UUID) || fs.TotalDevices <= 0 || len(fs.Devices) > fs.TotalDevices || fs.BytesUsed < 0 {
				t.Fatalf("bad filesystem %+v from %q", fs, in)
			}
			for _, d := range fs.Devices {
				if d.Size < 0 || d.Used < 0 {
					t.Fatalf("bad device %+v from %q", d, in)
				}
			}
			_ = fs.Complete()
			_ = fs.describe()
		}
	})
}

func FuzzParseFindmnt(f *testing.F) {
	for _, name := range []string{"findmnt-btrfs.json", "findmnt-btrfs-subvol.json", "findmnt-ext4.json", "findmnt-stacked.json"} {
		f.Add([]byte(testdata(f, name)))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ParseFindmnt(in)
		if err != nil {
			return
		}
		if m == nil || m.Target == "" || m.FSType == "" {
			t.Fatalf("bad mount %+v from %q", m, in)
		}
	})
}
