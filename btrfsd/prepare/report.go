package prepare

import (
	"fmt"
	"strings"

	"github.com/go-logr/logr"

	"github.com/toposuite/toposuite/internal/disk"
	"github.com/toposuite/toposuite/internal/storage"
)

// Action is what prepare does (or, in a dry run, would do) with a device.
type Action string

// Actions.
const (
	// ActionKeep: a device of the pool's filesystem, which is mounted at
	// the pool path already or is about to be.
	ActionKeep Action = "keep"
	// ActionUse: blank; it becomes a device of the new filesystem.
	ActionUse Action = "use"
	// ActionWipeAndUse: listed under wipe; its signatures are erased, then
	// it is used.
	ActionWipeAndUse Action = "wipeAndUse"
	// ActionRefuse: the device cannot be used; Reason says why.
	ActionRefuse Action = "refuse"
	// ActionLeaveInPlace: a device of the pool's mounted filesystem that is
	// no longer declared. Prepare never removes one: that could lose data.
	ActionLeaveInPlace Action = "leaveInPlace"
)

// Result is what happened to a pool.
type Result string

// Results.
const (
	// ResultCreated: the filesystem was made, mounted and given quotas.
	ResultCreated Result = "created"
	// ResultMounted: the declared devices held the pool's filesystem; it
	// was mounted at the pool path.
	ResultMounted Result = "mounted"
	// ResultUnchanged: the filesystem was mounted at the pool path already.
	ResultUnchanged Result = "unchanged"
	// ResultRefused: a device or the pool path was refused, so nothing was
	// changed for this pool.
	ResultRefused Result = "refused"
	// ResultFailed: a command failed; Error says which.
	ResultFailed Result = "failed"
	// ResultWouldCreate and ResultWouldMount are a dry run's results.
	ResultWouldCreate Result = "wouldCreate"
	ResultWouldMount  Result = "wouldMount"
)

// Report is the outcome of a prepare run.
type Report struct {
	DryRun bool         `json:"dryRun"`
	Pools  []PoolReport `json:"pools"`
	// Warnings say what could not be found out, e.g. that LVM could not be
	// asked about physical volumes.
	Warnings []string `json:"warnings,omitempty"`
}

// PoolReport is the outcome for one pool.
type PoolReport struct {
	Name    string `json:"name"`
	Path    string `json:"path"`
	Result  Result `json:"result"`
	Message string `json:"message,omitempty"`
	// Reason is set when the pool itself is refused rather than one of its
	// devices: its path is a mount point of something else.
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// UUID and Label are the pool filesystem's, once there is one.
	UUID  string `json:"uuid,omitempty"`
	Label string `json:"label,omitempty"`
	// QuotaEnabled: prepare turned quotas on in this run (or, in a dry
	// run, would).
	QuotaEnabled bool           `json:"quotaEnabled,omitempty"`
	Devices      []DeviceReport `json:"devices"`
}

// DeviceReport is the outcome for one device.
type DeviceReport struct {
	// Device is the path as declared, or as btrfs names an undeclared
	// device of the pool's filesystem.
	Device string `json:"device"`
	Action Action `json:"action"`
	Reason string `json:"reason,omitempty"`
	// Problems are the reasons the device cannot be used as it is.
	Problems []disk.Reason `json:"problems,omitempty"`
	// Wiped lists the signature types erased (or, in a dry run, to erase).
	Wiped []string `json:"wiped,omitempty"`
}

// Refusals returns "pool: device: reason" for every refused device and
// "pool: path: reason" for every refused pool path.
func (r *Report) Refusals() []string {
	var out []string
	for _, p := range r.Pools {
		if p.Reason != "" {
			out = append(out, fmt.Sprintf("%s: %s: %s", p.Name, p.Path, p.Reason))
		}
		for _, d := range p.Devices {
			if d.Action == ActionRefuse {
				out = append(out, fmt.Sprintf("%s: %s: %s", p.Name, d.Device, d.Reason))
			}
		}
	}
	return out
}

// Err returns nil when nothing was refused, or an error
// (storage.ErrPrecondition) that lists each refusal and its reason.
func (r *Report) Err() error {
	refused := r.Refusals()
	if len(refused) == 0 {
		return nil
	}
	var devices, paths int
	for _, p := range r.Pools {
		if p.Reason != "" {
			paths++
		}
		for _, d := range p.Devices {
			if d.Action == ActionRefuse {
				devices++
			}
		}
	}
	var what []string
	if devices > 0 {
		what = append(what, count(devices, "device"))
	}
	if paths > 0 {
		what = append(what, count(paths, "pool path"))
	}
	verb := "were"
	if len(refused) == 1 {
		verb = "was"
	}
	return storage.Errorf(storage.ErrPrecondition, "%s %s refused, and the pools concerned were left unchanged:\n  %s",
		strings.Join(what, " and "), verb, strings.Join(refused, "\n  "))
}

// Log writes the report as log lines: one per pool and one per device,
// refusals and failures at error level.
func (r *Report) Log(log logr.Logger) {
	for _, w := range r.Warnings {
		log.Info("warning", "message", w)
	}
	for _, p := range r.Pools {
		kv := []any{"pool", p.Name, "path", p.Path, "result", p.Result, "dryRun", r.DryRun}
		if p.Message != "" {
			kv = append(kv, "message", p.Message)
		}
		if p.UUID != "" {
			kv = append(kv, "uuid", p.UUID)
		}
		switch {
		case p.Error != "":
			log.Error(nil, "pool failed", append(kv, "error", p.Error)...)
		case p.Reason != "":
			log.Error(nil, "pool refused", append(kv, "reason", p.Reason)...)
		default:
			log.Info("pool", kv...)
		}
		for _, d := range p.Devices {
			kv := []any{"pool", p.Name, "device", d.Device, "action", d.Action, "reason", d.Reason}
			if len(d.Wiped) > 0 {
				kv = append(kv, "wiped", d.Wiped)
			}
			if d.Action == ActionRefuse {
				log.Error(nil, "device refused", kv...)
			} else {
				log.Info("device", kv...)
			}
		}
	}
}

// count renders "1 device" or "2 devices".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
