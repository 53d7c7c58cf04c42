package btrfsd

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/toposuite/toposuite/btrfsd/btrfs"
	"github.com/toposuite/toposuite/btrfsd/config"
	"github.com/toposuite/toposuite/internal/storage"
)

// subvol is a subvolume found in a pool directory.
type subvol struct {
	name   string
	info   btrfs.SubvolumeInfo
	class  string // the ClassXattr value; "" for subvolumes that are not the suite's
	source string
	owner  string // the OwnerXattr value; "" when it records none
}

// scan lists the subvolumes directly in a pool directory.
func scan(dir string) ([]subvol, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, storage.Errorf(storage.ErrUnavailable, "read pool directory: %w", err)
	}
	var out []subvol
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		s, err := inspect(dir, e.Name())
		if errors.Is(err, errNotSubvolume) || errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

var errNotSubvolume = errors.New("not a subvolume")

// inspect reads one subvolume of a pool.
func inspect(dir, name string) (subvol, error) {
	path := filepath.Join(dir, name)
	ok, err := btrfs.IsSubvolume(path)
	if err != nil {
		return subvol{}, err
	}
	if !ok {
		return subvol{}, errNotSubvolume
	}
	info, err := btrfs.Info(path)
	if err != nil {
		return subvol{}, err
	}
	return subvol{name: name, info: info, class: getxattr(path, ClassXattr), source: getxattr(path, SourceXattr), owner: getxattr(path, OwnerXattr)}, nil
}

func getxattr(path, attr string) string {
	buf := make([]byte, 256)
	n, err := unix.Getxattr(path, attr, buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// Refresh implements daemon.Backend: each pool directory, its qgroups and
// its filesystem's statfs are read again. No process is forked.
//
// Volume operations go on while a pool is read (at 5,000 subvolumes a
// read takes a good part of a second, and creates waiting for it took
// seconds: BenchmarkScaleVolumes). The daemon's own operations keep the
// bookkeeping exact; a reading replaces it only if no operation changed
// it meanwhile, else the pool is read again, up to staleReads times, and
// after that the poll keeps the figures it has (the next poll tries again).
func (b *Backend) Refresh(ctx context.Context) (storage.Capacity, error) {
	b.refreshing.Lock()
	defer b.refreshing.Unlock()
	for _, p := range b.pools {
		for range staleReads {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			fresh, err := b.refreshPool(p)
			if err != nil {
				return nil, err
			}
			if fresh {
				break
			}
		}
	}
	return b.Capacity(), nil
}

// staleReads bounds the reads of a pool in one poll while the daemon's
// operations keep changing it.
const staleReads = 3

// refreshPool reads one pool and applies the reading unless an operation
// changed the bookkeeping meanwhile (fresh false). The filesystem's size
// and free bytes are applied in any case: they need no consistency with
// the subvolumes.
func (b *Backend) refreshPool(p *pool) (fresh bool, err error) {
	b.mu.Lock()
	before := p.changes
	b.mu.Unlock()
	usage, err := btrfs.Usage(p.Path)
	if err != nil {
		return false, storage.Errorf(storage.ErrUnavailable, "pool %q: %w", p.Name, err)
	}
	committed, ids, err := commitments(p.Path, b.sysfsRoot, p.fsid, p.ids)
	if err != nil {
		return false, err
	}
	p.ids = ids
	b.mu.Lock()
	defer b.mu.Unlock()
	p.fsSize, p.fsFree = usage.Size, usage.Free
	p.budget = config.Bytes(p.Budget, usage.Size)
	if p.changes != before {
		return false, nil
	}
	p.committed = committed
	return true, nil
}

// Capacity implements daemon.Backend from the bookkeeping alone.
func (b *Backend) Capacity() storage.Capacity {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(storage.Capacity, 0, len(b.pools))
	for _, p := range b.pools {
		out = append(out, storage.ClassCapacity{
			Name: p.Name, Default: p == b.deflt, SizeBytes: p.budget, AvailableBytes: max(0, p.availableLocked()),
		})
	}
	return out
}

// availableLocked = min(budget − limits promised, filesystem free − spare).
func (p *pool) availableLocked() int64 {
	var sum int64
	for _, c := range p.committed {
		sum += c
	}
	return min(p.budget-sum-p.reserved, p.fsFree-p.spare-p.reserved)
}

func (b *Backend) reserve(p *pool, need int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if need > p.availableLocked() {
		return false
	}
	p.reserved += need
	return true
}

// settle ends a reservation and records the volume's new commitment.
func (b *Backend) settle(p *pool, reserved int64, name string, committed int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p.reserved -= reserved
	if committed > 0 {
		p.committed[name] = committed
		p.changes++
	}
}

func (b *Backend) forget(p *pool, name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(p.committed, name)
	p.changes++
}

func (b *Backend) available(p *pool) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(0, p.availableLocked())
}
