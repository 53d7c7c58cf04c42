package prepare

import (
	"context"

	"github.com/toposuite/toposuite/lvmd/config"
)

// LoopState says how a loop file got its device.
type LoopState string

// Loop states.
const (
	// LoopAlreadyAttached: a loop device was attached to the file already
	// and is reused, which is what makes prepare idempotent for loop files.
	LoopAlreadyAttached LoopState = "alreadyAttached"
	// LoopAttached: prepare created the file if needed and attached it.
	LoopAttached LoopState = "attached"
	// LoopNotAttached: a dry run, which attaches nothing.
	LoopNotAttached LoopState = "notAttached"
)

// LoopAttachment is a loop file and its loop device.
type LoopAttachment struct {
	File   string
	Device string
	State  LoopState
}

// AttachLoopFile returns the loop device of lf, attaching one when none
// maps the whole file. Only then is the file created or grown to its size
// (never shrunk): a file that is attached already is left as it is. In a
// dry run nothing is created or attached.
func (p *Preparer) AttachLoopFile(ctx context.Context, lf config.LoopFile, dryRun bool) (LoopAttachment, error) {
	a := LoopAttachment{File: lf.Path}
	loops, err := p.disks.LoopsBackedBy(ctx, lf.Path)
	if err != nil {
		return a, err
	}
	for _, l := range loops {
		if l.Whole() {
			a.Device, a.State = l.Path, LoopAlreadyAttached
			return a, nil
		}
	}
	if dryRun {
		a.State = LoopNotAttached
		return a, nil
	}
	if err := p.disks.EnsureFile(ctx, lf.Path, lf.Size.Value()); err != nil {
		return a, err
	}
	dev, err := p.disks.AttachLoop(ctx, lf.Path)
	if err != nil {
		return a, err
	}
	p.log.Info("attached loop file", "file", lf.Path, "device", dev)
	a.Device, a.State = dev, LoopAttached
	return a, nil
}
