package prepare

import (
	"fmt"
	"strings"

	"github.com/go-logr/logr"

	"github.com/toposuite/toposuite/internal/disk"
	"github.com/toposuite/toposuite/internal/storage"
)

// Result is what happened to a volume group.
type Result string

// Results.
const (
	ResultCreated   Result = "created"
	ResultExtended  Result = "extended"
	ResultUnchanged Result = "unchanged"
	// ResultRefused: a device was refused, so nothing was changed in this
	// volume group; a VG is only ever built from all its declared devices.
	ResultRefused Result = "refused"
	// ResultFailed: a command failed; Error says which.
	ResultFailed Result = "failed"
	// ResultWouldCreate and ResultWouldExtend are a dry run's results.
	ResultWouldCreate Result = "wouldCreate"
	ResultWouldExtend Result = "wouldExtend"
)

// Report is the outcome of a prepare run.
type Report struct {
	DryRun       bool       `json:"dryRun"`
	VolumeGroups []VGReport `json:"volumeGroups"`
}

// VGReport is the outcome for one volume group.
type VGReport struct {
	Name    string         `json:"name"`
	Result  Result         `json:"result"`
	Message string         `json:"message,omitempty"`
	Error   string         `json:"error,omitempty"`
	Devices []DeviceReport `json:"devices"`
	// ThinPool is the outcome for the declared thin pool, if any.
	ThinPool *ThinPoolReport `json:"thinPool,omitempty"`
}

// DeviceReport is the outcome for one device.
type DeviceReport struct {
	// Device is the path as declared, the loop device of a loop file, or
	// the PV name LVM reports for an undeclared member.
	Device string `json:"device,omitempty"`
	// LoopFile and Loop are set for loop files.
	LoopFile string    `json:"loopFile,omitempty"`
	Loop     LoopState `json:"loop,omitempty"`
	Action   Action    `json:"action"`
	Reason   string    `json:"reason,omitempty"`
	// Problems are the reasons the device is not blank, as disk found them.
	Problems []disk.Reason `json:"problems,omitempty"`
	// Wiped lists the signature types erased (or, in a dry run, to erase).
	Wiped []string `json:"wiped,omitempty"`
}

// name is the device, or its loop file when it has no device yet.
func (d DeviceReport) name() string {
	if d.Device == "" {
		return d.LoopFile
	}
	return d.Device
}

// Refusals returns "vg: device: reason" for every refused device, and
// "vg: thin pool name: reason" for a refused pool.
func (r *Report) Refusals() []string {
	var out []string
	for _, vg := range r.VolumeGroups {
		for _, d := range vg.Devices {
			if d.Action == ActionRefuse {
				out = append(out, fmt.Sprintf("%s: %s: %s", vg.Name, d.name(), d.Reason))
			}
		}
		if tp := vg.ThinPool; tp != nil && tp.Result == PoolRefused {
			out = append(out, fmt.Sprintf("%s: thin pool %s: %s", vg.Name, tp.Name, tp.Message))
		}
	}
	return out
}

// Err returns nil when every declared device and thin pool could be used,
// or an error (storage.ErrPrecondition) that lists each refusal and its
// reason.
func (r *Report) Err() error {
	refused := r.Refusals()
	if len(refused) == 0 {
		return nil
	}
	pools := 0
	for _, vg := range r.VolumeGroups {
		if vg.ThinPool != nil && vg.ThinPool.Result == PoolRefused {
			pools++
		}
	}
	var what string
	switch devices := len(refused) - pools; {
	case pools == 0:
		what = count(devices, "device") + " " + were(devices) + " refused, and the volume groups using them were left unchanged"
	case devices == 0:
		what = count(pools, "thin pool") + " " + were(pools) + " refused and left as found"
	default:
		what = count(devices, "device") + " and " + count(pools, "thin pool") + " were refused, and left unchanged"
	}
	return storage.Errorf(storage.ErrPrecondition, "%s:\n  %s", what, strings.Join(refused, "\n  "))
}

func were(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

// Log writes the report as log lines: one per volume group and one per
// device, refusals and failures at error level.
func (r *Report) Log(log logr.Logger) {
	for _, vg := range r.VolumeGroups {
		kv := []any{"volumeGroup", vg.Name, "result", vg.Result, "dryRun", r.DryRun}
		if vg.Message != "" {
			kv = append(kv, "message", vg.Message)
		}
		if vg.Error != "" {
			log.Error(nil, "volume group failed", append(kv, "error", vg.Error)...)
		} else {
			log.Info("volume group", kv...)
		}
		for _, d := range vg.Devices {
			kv := []any{"volumeGroup", vg.Name, "device", d.name(), "action", d.Action, "reason", d.Reason}
			if d.LoopFile != "" {
				kv = append(kv, "loopFile", d.LoopFile, "loop", d.Loop)
			}
			if len(d.Wiped) > 0 {
				kv = append(kv, "wiped", d.Wiped)
			}
			if d.Action == ActionRefuse {
				log.Error(nil, "device refused", kv...)
			} else {
				log.Info("device", kv...)
			}
		}
		if tp := vg.ThinPool; tp != nil {
			kv := []any{"volumeGroup", vg.Name, "thinPool", tp.Name, "result", tp.Result, "sizeBytes", tp.SizeBytes}
			switch {
			case tp.Error != "":
				log.Error(nil, "thin pool failed", append(kv, "error", tp.Error)...)
			case tp.Result == PoolRefused || tp.Result == PoolDiffers:
				log.Error(nil, "thin pool not as declared", append(kv, "message", tp.Message)...)
			default:
				log.Info("thin pool", append(kv, "message", tp.Message)...)
			}
		}
	}
}
