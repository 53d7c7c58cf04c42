package prepare

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/toposuite/toposuite/internal/storage"
	"github.com/toposuite/toposuite/lvmd/config"
	"github.com/toposuite/toposuite/lvmd/lvm"
)

// PoolResult is what happened to a volume group's declared thin pool.
type PoolResult string

// Pool results.
const (
	PoolCreated   PoolResult = "created"
	PoolUnchanged PoolResult = "unchanged"
	// PoolDiffers: the pool exists with another size than declared. Prepare
	// never resizes a pool (shrinking one loses data, and growing one is
	// a decision about space the volume group's other users share).
	PoolDiffers PoolResult = "differs"
	// PoolRefused: a logical volume of the pool's name exists and is not
	// a thin pool.
	PoolRefused PoolResult = "refused"
	// PoolSkipped: the volume group was not prepared (a device refused or
	// a command failed), so neither is its pool.
	PoolSkipped PoolResult = "skipped"
	PoolFailed  PoolResult = "failed"
	// PoolWouldCreate: a dry run's result.
	PoolWouldCreate PoolResult = "wouldCreate"
)

// ThinPoolReport is the outcome for a volume group's thin pool.
type ThinPoolReport struct {
	Name   string     `json:"name"`
	Result PoolResult `json:"result"`
	// SizeBytes is the pool's declared data size in bytes, once known (a
	// share of a volume group that does not exist yet is not).
	SizeBytes int64  `json:"sizeBytes,omitempty"`
	Message   string `json:"message,omitempty"`
	Error     string `json:"error,omitempty"`
}

// preparePool creates the volume group's declared thin pool when it is
// missing, once the volume group has been prepared (vgResult).
func (p *Preparer) preparePool(ctx context.Context, vg config.VolumeGroup, vgResult Result, dryRun bool) (*ThinPoolReport, error) {
	tp := vg.ThinPool
	r := &ThinPoolReport{Name: tp.Name}
	pct, abs, err := tp.ParseSize()
	if err != nil {
		// Validate catches this first; a caller that skipped it gets it here.
		r.Result, r.Error = PoolFailed, "size: "+err.Error()
		return r, errors.New(r.Error)
	}
	switch vgResult {
	case ResultRefused, ResultFailed:
		r.Result, r.Message = PoolSkipped, "the volume group was not prepared"
		return r, nil
	case ResultWouldCreate, ResultWouldExtend:
		if pct > 0 {
			// Its size depends on devices a dry run has not added.
			r.Result, r.Message = PoolWouldCreate, fmt.Sprintf("would create it with %d%% of the volume group once prepared", pct)
			return r, nil
		}
		if vgResult == ResultWouldCreate {
			r.Result, r.SizeBytes, r.Message = PoolWouldCreate, abs, "would create it once the volume group is created"
			return r, nil
		}
	}
	vgs, err := p.lvm.VGs(ctx, vg.Name)
	if err != nil {
		return failPool(r, err)
	}
	if len(vgs) != 1 {
		return failPool(r, fmt.Errorf("volume group %s not found", vg.Name))
	}
	r.SizeBytes = poolSize(pct, abs, vgs[0], bytesOf(tp.ChunkSize))
	if r.SizeBytes <= 0 {
		return failPool(r, fmt.Errorf("%s of the %d-byte volume group is less than one extent", tp.Size, vgs[0].Size))
	}
	lv, err := p.lvm.LV(ctx, vg.Name, tp.Name)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return failPool(r, err)
	case !lv.Attr.ThinPool():
		r.Result = PoolRefused
		r.Message = fmt.Sprintf("%s/%s exists and is a %s volume, not a thin pool; prepare creates a pool only where no volume of its name exists", vg.Name, tp.Name, lv.Segtype)
		return r, nil
	case lv.Size == r.SizeBytes:
		r.Result, r.Message = PoolUnchanged, "the thin pool exists with the declared size"
		return r, nil
	default:
		r.Result = PoolDiffers
		r.Message = fmt.Sprintf("the thin pool exists with %d bytes, the declaration asks for %d; prepare does not resize thin pools (lvextend it if that is what you want)", lv.Size, r.SizeBytes)
		return r, nil
	}
	if dryRun {
		r.Result, r.Message = PoolWouldCreate, "would create it"
		return r, nil
	}
	p.log.Info("creating thin pool", "volumeGroup", vg.Name, "thinPool", tp.Name, "sizeBytes", r.SizeBytes)
	if err := p.lvm.Create(ctx, lvm.CreateArgs{VG: vg.Name, Name: tp.Name, SizeBytes: r.SizeBytes, Options: poolOptions(tp)}); err != nil {
		return failPool(r, fmt.Errorf("lvcreate: %w", err))
	}
	r.Result, r.Message = PoolCreated, "created"
	return r, nil
}

func failPool(r *ThinPoolReport, err error) (*ThinPoolReport, error) {
	r.Result, r.Error = PoolFailed, err.Error()
	return r, fmt.Errorf("thin pool %s: %w", r.Name, err)
}

// poolSize is the data size LVM gives a pool declared as pct percent of
// vg or abs bytes: whole extents, and whole chunks when a chunk is larger
// than an extent, so that a second run finds the size it asked for. A
// share rounds down (it must fit), an absolute size up, as lvcreate does.
func poolSize(pct int, abs int64, vg lvm.VG, chunk int64) int64 {
	unit := vg.ExtentSize
	if chunk > 0 {
		unit = lcm(unit, chunk)
	}
	if unit <= 0 {
		return abs
	}
	if pct > 0 {
		return vg.Size * int64(pct) / 100 / unit * unit
	}
	return (abs + unit - 1) / unit * unit
}

func bytesOf(q *resource.Quantity) int64 {
	if q == nil {
		return 0
	}
	return q.Value()
}

func lcm(a, b int64) int64 {
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	if x == 0 {
		return 0
	}
	return a / x * b
}

// poolOptions are lvcreate's options for the pool: lvmd's lvm.Create gives
// it the name and size.
func poolOptions(tp *config.PreparedThinPool) []string {
	opts := []string{"--type", "thin-pool"}
	if tp.ChunkSize != nil {
		opts = append(opts, "--chunksize", strconv.FormatInt(tp.ChunkSize.Value()>>10, 10)+"k")
	}
	if tp.MetadataSize != nil {
		opts = append(opts, "--poolmetadatasize", strconv.FormatInt((tp.MetadataSize.Value()+1<<10-1)>>10, 10)+"k")
	}
	return opts
}
