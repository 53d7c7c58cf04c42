// Package btrfsd is the btrfs storage daemon's domain logic (TopoLS): pools
// are device classes, volumes are subvolumes directly in a pool's directory,
// each limited by the referenced-bytes limit of its level-0 quota group. It
// implements daemon.Backend, so it is served exactly like lvmd.
//
// State lives only in btrfs: a subvolume is the suite's when it carries the
// xattr trusted.toposuite.class naming its pool (trusted.* is visible to
// root only, so pods cannot forge or strip it); snapshots also carry
// trusted.toposuite.source. Everything else is read back from the kernel, so
// a restarted btrfsd knows everything.
//
// Volumes are created, limited, snapshotted and deleted with ioctls (package
// btrfs): no process is forked for a volume.
//
// Locking is lvmd's: a lock per volume, and the poll takes `rw`
// exclusively while it reads a pool so that it never sees half a change.
package btrfsd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/go-logr/logr"

	"github.com/toposuite/toposuite/btrfsd/btrfs"
	"github.com/toposuite/toposuite/btrfsd/config"
	"github.com/toposuite/toposuite/internal/keylock"
	"github.com/toposuite/toposuite/internal/storage"
)

// Extended attributes that mark the suite's subvolumes.
const (
	ClassXattr  = "trusted.toposuite.class"
	SourceXattr = "trusted.toposuite.source"
	// OwnerXattr records the UID of the object a subvolume belongs to
	// (storage.Claim). Trusted xattrs need CAP_SYS_ADMIN, so a pod cannot
	// rewrite the owner of the volume it mounts.
	OwnerXattr = "trusted.toposuite.owner-uid"
)

// sizeUnit is what limits round up to: the page size, the smallest unit
// btrfs accounts data in.
const sizeUnit = 4096

// Backend is btrfsd's implementation of daemon.Backend.
type Backend struct {
	log       logr.Logger
	sysfsRoot string
	pools     []*pool
	byName    map[string]*pool
	deflt     *pool

	locks keylock.Map
	// refreshing makes polls one at a time; volume operations never wait
	// for a poll (Refresh).
	refreshing sync.Mutex
	mu         sync.Mutex // guards the pools' bookkeeping
}

type pool struct {
	config.Pool
	fsid  string
	spare int64

	// Bookkeeping, guarded by Backend.mu.
	fsSize, fsFree int64
	budget         int64
	// committed holds what each subvolume in the pool takes from the
	// budget: its limit, or its referenced bytes when it has none.
	committed map[string]int64
	reserved  int64
	// changes counts the commitments the daemon set or dropped, so that a
	// poll that read the pool meanwhile knows its reading is stale.
	changes uint64
	// ids are the subvolume ids the last poll found, guarded by
	// Backend.refreshing.
	ids map[string]subvolID
}

// New checks every pool (a btrfs filesystem with quotas on, or turned on
// when the config says so), reads them once and returns the backend.
func New(ctx context.Context, cfg *config.Config, log logr.Logger) (*Backend, error) {
	return newBackend(ctx, cfg, btrfs.SysfsRoot, log)
}

func newBackend(ctx context.Context, cfg *config.Config, sysfsRoot string, log logr.Logger) (*Backend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config:\n%w", err)
	}
	b := &Backend{log: log, sysfsRoot: sysfsRoot, byName: map[string]*pool{}}
	var errs []error
	for _, pc := range cfg.Pools {
		p := &pool{Pool: pc, spare: config.Bytes(pc.Spare, 0)}
		if err := b.checkPool(p); err != nil {
			errs = append(errs, fmt.Errorf("pool %q: %w", pc.Name, err))
			continue
		}
		b.pools = append(b.pools, p)
		b.byName[p.Name] = p
		if p.Default {
			b.deflt = p
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid config:\n%w", err)
	}
	if _, err := b.Refresh(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *Backend) checkPool(p *pool) error {
	if _, err := btrfs.Usage(p.Path); err != nil {
		return fmt.Errorf("path %s: %w", p.Path, err)
	}
	fsid, err := btrfs.FSID(p.Path)
	if err != nil {
		return err
	}
	p.fsid = fsid
	if _, err := btrfs.Qgroups(b.sysfsRoot, fsid); errors.Is(err, btrfs.ErrQuotaDisabled) {
		if !p.EnableQuota {
			return fmt.Errorf("quotas are off on %s, so volume sizes would not be enforced; set enableQuota: true or run `btrfs quota enable %s`", p.Path, p.Path)
		}
		b.log.Info("enabling btrfs quotas", "pool", p.Name, "path", p.Path)
		return btrfs.EnableQuota(p.Path)
	} else if err != nil {
		return err
	}
	return nil
}

func (b *Backend) resolve(name string) (*pool, error) {
	if name == "" {
		return b.deflt, nil
	}
	p, ok := b.byName[name]
	if !ok {
		names := make([]string, len(b.pools))
		for i, p := range b.pools {
			names[i] = p.Name
		}
		return nil, storage.Errorf(storage.ErrInvalid, "pool %q is not configured (configured: %s)", name, strings.Join(names, ", "))
	}
	return p, nil
}

// ValidateName checks a volume name: it becomes a directory name, so
// anything that could leave the pool directory or confuse a shell is refused.
func ValidateName(name string) error {
	switch {
	case name == "":
		return storage.Errorf(storage.ErrInvalid, "volume name is empty")
	case len(name) > 128:
		return storage.Errorf(storage.ErrInvalid, "volume name of %d characters is too long; the limit is 128", len(name))
	case name == "." || name == "..":
		return storage.Errorf(storage.ErrInvalid, "volume name %q is reserved", name)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '+' ||
			(i > 0 && (r == '-' || r == '.'))
		if !ok {
			return storage.Errorf(storage.ErrInvalid, "volume name %q may only contain letters, digits and + _ . - and must not start with - or .", name)
		}
	}
	return nil
}

func roundUp(n int64) int64 { return (n + sizeUnit - 1) / sizeUnit * sizeUnit }
