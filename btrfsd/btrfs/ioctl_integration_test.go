//go:build integration

package btrfs_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/toposuite/toposuite/btrfsd/btrfs"
	"github.com/toposuite/toposuite/internal/testutil"
)

const mib = 1 << 20

func writeFile(path string, size int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, mib)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for written := 0; written < size; written += len(buf) {
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
	return f.Sync()
}

func TestIntegrationSubvolumeWithLimit(t *testing.T) {
	testutil.RequireRoot(t)
	mnt := testutil.Btrfs(t, 512*mib, true)
	if err := btrfs.CreateSubvolume(mnt, "vol", 16*mib); err != nil {
		t.Fatal(err)
	}
	info, err := btrfs.Info(filepath.Join(mnt, "vol"))
	if err != nil || info.ID < 256 || info.ReadOnly || info.Snapshot {
		t.Fatalf("info = %+v, %v", info, err)
	}
	fsid, err := btrfs.FSID(mnt)
	if err != nil {
		t.Fatal(err)
	}
	qs, err := btrfs.Qgroups(btrfs.SysfsRoot, fsid)
	if err != nil {
		t.Fatal(err)
	}
	if q := qs[info.ID]; q.Limit != 16*mib {
		t.Fatalf("qgroup = %+v, want limit 16 MiB set at creation", q)
	}
	// The kernel enforces the limit.
	err = writeFile(filepath.Join(mnt, "vol", "big"), 32*mib)
	if !errors.Is(err, syscall.EDQUOT) {
		t.Fatalf("writing past the limit: %v, want EDQUOT", err)
	}
	// Raising the limit of a subvolume over it works by id.
	if err := btrfs.SetLimit(mnt, info.ID, 64*mib); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(filepath.Join(mnt, "vol", "more"), 24*mib); err != nil {
		t.Fatalf("write after raising the limit: %v", err)
	}
	if err := btrfs.Sync(mnt); err != nil {
		t.Fatal(err)
	}
	qs, _ = btrfs.Qgroups(btrfs.SysfsRoot, fsid)
	if q := qs[info.ID]; q.Limit != 64*mib || q.Referenced < 24*mib {
		t.Errorf("qgroup after growth = %+v", q)
	}
	// Compare with what the CLI says.
	out := testutil.Run(t, nil, "btrfs", "qgroup", "show", "-re", "--raw", "--sync", mnt)
	if !strings.Contains(out, "67108864") {
		t.Errorf("btrfs qgroup show does not show the 64 MiB limit:\n%s", out)
	}

	if err := btrfs.Snapshot(filepath.Join(mnt, "vol"), mnt, "snap", true, 64*mib); err != nil {
		t.Fatal(err)
	}
	si, err := btrfs.Info(filepath.Join(mnt, "snap"))
	if err != nil || !si.ReadOnly || !si.Snapshot {
		t.Fatalf("snapshot info = %+v, %v", si, err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "snap", "x"), []byte("x"), 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("write into a read-only snapshot: %v, want EROFS", err)
	}

	for _, n := range []string{"snap", "vol"} {
		id := map[string]uint64{"snap": si.ID, "vol": info.ID}[n]
		if err := btrfs.DeleteSubvolume(mnt, n); err != nil {
			t.Fatal(err)
		}
		// The kernel drops a deleted subvolume, and its qgroup with it,
		// after the next transaction commit.
		if err := btrfs.Sync(mnt); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, fmt.Sprintf("qgroup 0/%d of %s to go after delete", id, n), func() bool {
			_, err := btrfs.QgroupOf(btrfs.SysfsRoot, fsid, id)
			return errors.Is(err, fs.ErrNotExist)
		})
	}
}

func TestIntegrationQuotaDisabledAndNotBtrfs(t *testing.T) {
	testutil.RequireRoot(t)
	mnt := testutil.Btrfs(t, 256*mib, false)
	fsid, err := btrfs.FSID(mnt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := btrfs.Qgroups(btrfs.SysfsRoot, fsid); !errors.Is(err, btrfs.ErrQuotaDisabled) {
		t.Errorf("Qgroups without quota: %v", err)
	}
	if err := btrfs.EnableQuota(mnt); err != nil {
		t.Fatal(err)
	}
	if _, err := btrfs.Qgroups(btrfs.SysfsRoot, fsid); err != nil {
		t.Errorf("Qgroups after enabling: %v", err)
	}
	if _, err := btrfs.Usage(testutil.Dir(t)); !errors.Is(err, btrfs.ErrNotBtrfs) {
		t.Errorf("Usage on /tmp: %v, want ErrNotBtrfs", err)
	}
}
