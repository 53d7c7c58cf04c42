// Package lvm is lvmd's command layer: it builds LVM command lines, runs them
// through internal/exec and parses their JSON reports. It knows LVM, not
// device classes or capacity policy; that is package lvmd's job.
//
// Every command goes through the single `lvm` binary (lvm <command> ...),
// whose path is a setting, so that a command prefix such as nsenter works
// the same for all of them.
package lvm

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/toposuite/toposuite/internal/exec"
	"github.com/toposuite/toposuite/internal/storage"
)

// Client runs LVM commands.
type Client struct {
	run  exec.Runner
	path string
}

// New returns a client running the lvm binary at path through r.
func New(r exec.Runner, path string) *Client {
	return &Client{run: r, path: path}
}

func (c *Client) lvm(ctx context.Context, args ...string) (exec.Result, error) {
	res, err := c.run.Run(ctx, c.path, args...)
	if err != nil {
		return res, classify(err)
	}
	return res, nil
}

var reportArgs = []string{"--reportformat", "json", "--units", "b", "--nosuffix"}

// fullReportColumns name the columns of each part of a fullreport: the ones
// the parser reads for VGs, PVs and LVs, one short column for the parts it
// skips. The defaults would come from the configuration or a command
// profile. The LV part takes no vg_name (an LV's VG is its section's) and
// no segtype, a column of the segment part.
var fullReportColumns = []string{
	"--configreport", "vg", "-o", vgFields,
	"--configreport", "lv", "-o", strings.Replace(strings.Replace(lvFields, "vg_name,", "", 1), ",segtype", "", 1),
	"--configreport", "pv", "-o", fullReportPVFields,
	"--configreport", "pvseg", "-o", "pvseg_start",
	"--configreport", "seg", "-o", "segtype",
}

// FullReport returns the VGs named (all when none) and their LVs in one
// command. A missing VG is not an error here: it is absent from the report,
// and the caller decides what that means.
func (c *Client) FullReport(ctx context.Context, vgs ...string) (Report, error) {
	args := append(append(append([]string{"fullreport"}, fullReportColumns...), reportArgs...), vgs...)
	res, err := c.lvm(ctx, args...)
	if err != nil && !(errors.Is(err, storage.ErrNotFound) && len(res.Stdout) > 0) {
		return Report{}, err
	}
	return ParseReport(res.Stdout)
}

// VGs returns the named volume groups (all when none); missing ones are absent.
func (c *Client) VGs(ctx context.Context, vgs ...string) ([]VG, error) {
	args := append(append([]string{"vgs", "-o", vgFields}, reportArgs...), vgs...)
	res, err := c.lvm(ctx, args...)
	if err != nil && !(errors.Is(err, storage.ErrNotFound) && len(res.Stdout) > 0) {
		return nil, err
	}
	r, err := ParseReport(res.Stdout)
	return r.VGs, err
}

// LV returns one logical volume; the error wraps storage.ErrNotFound when
// it does not exist.
func (c *Client) LV(ctx context.Context, vg, name string) (LV, error) {
	args := append(append([]string{"lvs", "-o", lvFields}, reportArgs...), vg+"/"+name)
	res, err := c.lvm(ctx, args...)
	if err != nil {
		return LV{}, err
	}
	r, err := ParseReport(res.Stdout)
	if err != nil {
		return LV{}, err
	}
	for _, lv := range r.LVs {
		if lv.Name == name && lv.VG == vg {
			return lv, nil
		}
	}
	return LV{}, storage.Errorf(storage.ErrNotFound, "logical volume %s/%s not found", vg, name)
}

// CreateArgs describe an lvcreate.
type CreateArgs struct {
	VG   string
	Name string
	// SizeBytes is the size (thick) or virtual size (thin).
	SizeBytes int64
	// ThinPool, when set, makes a thin volume in that pool.
	ThinPool   string
	Stripes    int
	StripeSize string
	// Options come from an administrator-written options class, verbatim.
	Options []string
	Tags    []string
	// PVs limit the allocation to these physical volumes or extent ranges
	// of them ("/dev/sdb:100-355"); empty lets LVM choose.
	PVs []string
}

// Create runs lvcreate.
func (c *Client) Create(ctx context.Context, a CreateArgs) error {
	args := []string{"lvcreate", "-y", "-n", a.Name}
	if a.ThinPool != "" {
		args = append(args, "-V", bytesArg(a.SizeBytes), "--thinpool", a.ThinPool)
	} else {
		args = append(args, "-L", bytesArg(a.SizeBytes))
		if a.Stripes > 1 {
			args = append(args, "-i", strconv.Itoa(a.Stripes))
			if a.StripeSize != "" {
				args = append(args, "-I", a.StripeSize)
			}
		}
	}
	args = append(args, a.Options...)
	for _, t := range a.Tags {
		args = append(args, "--addtag", t)
	}
	_, err := c.lvm(ctx, append(append(args, a.VG), a.PVs...)...)
	return err
}

// SnapshotArgs describe an lvcreate --snapshot.
type SnapshotArgs struct {
	VG     string
	Name   string
	Source string
	// SizeBytes is the copy-on-write size of a thick snapshot; zero for thin.
	SizeBytes int64
	ReadOnly  bool
	Tags      []string
}

// Snapshot creates a snapshot. Thin snapshots (no size) get the activation
// skip flag cleared so they can be used as volumes like any other LV.
func (c *Client) Snapshot(ctx context.Context, a SnapshotArgs) error {
	args := []string{"lvcreate", "-y", "-s", "-n", a.Name}
	if a.SizeBytes > 0 {
		args = append(args, "-L", bytesArg(a.SizeBytes))
	} else {
		args = append(args, "-kn")
	}
	if a.ReadOnly {
		args = append(args, "-p", "r")
	} else {
		args = append(args, "-p", "rw")
	}
	for _, t := range a.Tags {
		args = append(args, "--addtag", t)
	}
	_, err := c.lvm(ctx, append(args, a.VG+"/"+a.Source)...)
	return err
}

// Extend grows an LV to sizeBytes (rounded up by LVM to whole extents).
func (c *Client) Extend(ctx context.Context, vg, name string, sizeBytes int64) error {
	_, err := c.lvm(ctx, "lvextend", "-L", bytesArg(sizeBytes), vg+"/"+name)
	return err
}

// ExtendContiguous grows vg/name like Extend, but only into the free
// extents that directly follow its last ones (--alloc contiguous), so that a
// volume kept as one run of extents stays one. When those extents are taken
// LVM changes nothing and the error wraps ErrNoContiguousRoom.
func (c *Client) ExtendContiguous(ctx context.Context, vg, name string, sizeBytes int64) error {
	_, err := c.lvm(ctx, "lvextend", "--alloc", "contiguous", "-L", bytesArg(sizeBytes), vg+"/"+name)
	return err
}

// RemoveTagged removes vg/name only if it carries every tag, in one command
// (LVM evaluates the selection under its own lock, so there is no window
// between a check and the removal). It reports whether an LV was removed.
func (c *Client) RemoveTagged(ctx context.Context, vg, name string, tags ...string) (bool, error) {
	sel := "lv_name=" + name
	for _, t := range tags {
		sel += " && lv_tags=" + t
	}
	res, err := c.lvm(ctx, "lvremove", "-y", "-S", sel, vg)
	if err != nil {
		return false, err
	}
	return bytes.Contains(res.Stdout, []byte("successfully removed")), nil
}

// DelTag removes tag from vg/name.
func (c *Client) DelTag(ctx context.Context, vg, name, tag string) error {
	_, err := c.lvm(ctx, "lvchange", "--deltag", tag, vg+"/"+name)
	return err
}

// Activate activates vg/name (its device appears at /dev/<vg>/<name>).
func (c *Client) Activate(ctx context.Context, vg, name string) error {
	_, err := c.lvm(ctx, "lvchange", "-ay", vg+"/"+name)
	return err
}

func bytesArg(n int64) string { return strconv.FormatInt(n, 10) + "b" }

// ActivationEnabled reports whether LVM's global/activation setting is on.
// It is off in LVM's metadata-only mode (machines without device-mapper),
// where logical volumes have no device node.
func (c *Client) ActivationEnabled(ctx context.Context) (bool, error) {
	res, err := c.lvm(ctx, "config", "--typeconfig", "full", "global/activation")
	if err != nil {
		return false, err
	}
	return !bytes.Contains(res.Stdout, []byte("activation=0")), nil
}
