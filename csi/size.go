package csi

import (
	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/toposuite/toposuite/internal/storage"
)

// sizeUnit is what the controller rounds sizes up to: LVM's default extent
// (4 MiB), so that the size a node makes is the size the controller
// promised and a limit_bytes is never exceeded by the node's rounding.
const sizeUnit = 4 * mib

func roundUp(n, unit int64) int64 { return (n + unit - 1) / unit * unit }

// volumeSize applies a capacity range (CSI: required and limit bytes, both
// optional) to a filesystem's minimum size and the driver's default size.
func (d Driver) volumeSize(r *csi.CapacityRange, fs string) (int64, error) {
	req, lim := r.GetRequiredBytes(), r.GetLimitBytes()
	switch {
	case req < 0 || lim < 0:
		return 0, status.Errorf(codes.OutOfRange, "capacity range %d..%d is negative", req, lim)
	case lim > 0 && req > lim:
		return 0, status.Errorf(codes.OutOfRange, "required bytes %d exceed limit bytes %d", req, lim)
	case req > storage.MaxVolumeBytes || lim > storage.MaxVolumeBytes:
		return 0, status.Errorf(codes.OutOfRange, "capacity range %d..%d is larger than the largest volume (%d bytes)", req, lim, storage.MaxVolumeBytes)
	}
	size := req
	if size == 0 {
		size = d.DefaultSize
		if lim > 0 && lim < size {
			size = lim
		}
	}
	size = max(size, d.MinSizes[fs])
	size = roundUp(size, sizeUnit)
	if lim > 0 && size > lim {
		return 0, status.Errorf(codes.OutOfRange, "the smallest %s volume that satisfies the request is %d bytes, over the limit of %d", fsName(fs), size, lim)
	}
	return size, nil
}

func fsName(fs string) string {
	if fs == "" {
		return "block"
	}
	return fs
}
