package btrfsd

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/toposuite/toposuite/btrfsd/btrfs"
	"github.com/toposuite/toposuite/internal/storage"
)

// subvolID is what a poll remembers of a subvolume between polls: its id,
// and the identity it had then. A subvolume deleted and made again under
// the same name has another device number or change time, so it is
// inspected again.
type subvolID struct {
	dev   uint64
	ctime unix.Timespec
	id    uint64
}

// commitments reads what each subvolume of a pool takes from its budget
// (its quota limit, or its referenced bytes when it has none) for the
// poll. Per known subvolume it costs a stat and a sysfs read or two: the
// subvolume id comes from ids, the previous poll's, and only new
// subvolumes are asked for it. It returns the ids for the next poll.
func commitments(dir, sysfsRoot, fsid string, ids map[string]subvolID) (map[string]int64, map[string]subvolID, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, storage.Errorf(storage.ErrUnavailable, "read pool directory: %w", err)
	}
	committed := make(map[string]int64, len(entries))
	next := make(map[string]subvolID, len(entries))
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		var st unix.Stat_t
		if err := unix.Stat(path, &st); errors.Is(err, fs.ErrNotExist) {
			continue // deleted meanwhile
		} else if err != nil {
			return nil, nil, storage.Errorf(storage.ErrUnavailable, "stat %s: %w", path, err)
		}
		if !btrfs.IsSubvolumeStat(&st) {
			continue
		}
		sid, known := ids[e.Name()]
		if !known || sid.dev != st.Dev || sid.ctime != st.Ctim {
			info, err := btrfs.Info(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			} else if err != nil {
				return nil, nil, storage.Errorf(storage.ErrUnavailable, "%w", err)
			}
			sid = subvolID{dev: st.Dev, ctime: st.Ctim, id: info.ID}
		}
		bytes, err := btrfs.Commitment(sysfsRoot, fsid, sid.id)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV) {
			// No qgroup (yet, or any more): counts nothing, and is
			// looked at afresh next time.
			committed[e.Name()] = 0
			continue
		} else if err != nil {
			return nil, nil, storage.Errorf(storage.ErrUnavailable, "%w", err)
		}
		committed[e.Name()], next[e.Name()] = int64(bytes), sid
	}
	return committed, next, nil
}
