package csi

import (
	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/toposuite/toposuite/internal/storage"
)

// sizeUnit is what the controller rounds sizes up to: LVM's default extent
// (4 MiB), so that the size a node makes is the size the controller
// promised and a limit_bytes is never exceeded by the node's rounding.
const sizeUnit = 4 * mib

func roundUp(n, unit int64) int64 { return (n + unit - 1) / unit * unit }

// Sizes are refused in two ways. A size that is malformed or that no volume
// can have whatever the driver (not a quantity, negative, limit below
// required, larger than storage.MaxVolumeBytes) is InvalidArgument: the
// request must change. A well-formed range that this driver's rounding or
// filesystem minimum cannot meet is OutOfRange, CSI's "unsupported capacity".

// largestVolume is storage.MaxVolumeBytes as a quantity: sizes written by
// people are compared with it before they become int64, because
// resource.Quantity.Value wraps silently past int64 (2^64 + 1Mi bytes is
// 1Mi to it, 1e30 is 0) and ParseQuantity clamps some of them to 2^63-1.
var largestVolume = resource.NewQuantity(storage.MaxVolumeBytes, resource.BinarySI)

// QuantityBytes is the number of bytes of a size that arrived as a
// quantity, such as a PVC's storage request: InvalidArgument, naming the
// quantity, unless it is positive and no larger than the largest volume.
// A fraction of a byte rounds up.
func QuantityBytes(q resource.Quantity) (int64, error) {
	return quantityBytes(q, q.String())
}

// parseSize is QuantityBytes for a size as a person wrote it (an inline
// volume's size attribute); errors name that text, which a clamped
// quantity's String no longer is.
func parseSize(s string) (int64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, invalid("size %q is not a quantity of bytes (such as 512Mi or 10Gi)", s)
	}
	return quantityBytes(q, s)
}

func quantityBytes(q resource.Quantity, written string) (int64, error) {
	switch {
	case q.Sign() <= 0:
		return 0, invalid("size %q is not positive", written)
	case q.Cmp(*largestVolume) > 0:
		return 0, tooLarge("size %q", written)
	}
	return q.Value(), nil // exact now: at most 2^62
}

// tooLarge names what is larger than the largest volume.
func tooLarge(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format+" is larger than the largest volume (%d bytes)", append(args, storage.MaxVolumeBytes)...)
}

// checkRangeBytes checks one end of a CSI capacity range: int64 on the
// wire, so negative values arrive as they are.
func checkRangeBytes(field string, n int64) error {
	switch {
	case n < 0:
		return invalid("%s %d is negative", field, n)
	case n > storage.MaxVolumeBytes:
		return tooLarge("%s %d", field, n)
	}
	return nil
}

// volumeSize applies a capacity range (CSI: required and limit bytes, both
// optional, 0 when unset) to a filesystem's minimum size and the driver's
// default size. Bounding both ends first keeps the rounding below from
// overflowing.
func (d Driver) volumeSize(r *csi.CapacityRange, fs string) (int64, error) {
	req, lim := r.GetRequiredBytes(), r.GetLimitBytes()
	if err := checkRangeBytes("required_bytes", req); err != nil {
		return 0, err
	}
	if err := checkRangeBytes("limit_bytes", lim); err != nil {
		return 0, err
	}
	if lim > 0 && req > lim {
		return 0, invalid("required_bytes %d exceed limit_bytes %d", req, lim)
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
