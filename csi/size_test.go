package csi

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr"
	"google.golang.org/grpc/codes"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/toposuite/toposuite/internal/storage"
)

// Sizes a person writes (an inline volume's size attribute, a PVC's
// request) are quantities of any magnitude; resource.Quantity.Value wraps
// silently past int64, so 2^64 + 1 MiB once made a 4 MiB volume. Whatever
// does not fit the largest volume is InvalidArgument, naming the size as
// written.
var sizeCases = []struct {
	size string
	want int64 // the volume an ext4 inline volume of that size gets; 0: refused
}{
	{"1", 4 * mib},  // one byte, rounded to the extent
	{"1m", 4 * mib}, // a thousandth of a byte rounds up, not to 0
	{"5M", 8 * mib},
	{"2Gi", 2 * gib},
	{"4Ei", storage.MaxVolumeBytes},  // the largest volume itself
	{"4611686018427387904", 1 << 62}, // the same, in bytes
	{"0", 0},                         // not positive
	{"-1Gi", 0},
	{"lots", 0},                     // not a quantity
	{"4611686018427387905", 0},      // one byte over the largest volume
	{"9223372036854775807", 0},      // 2^63-1
	{"9223372036854775808", 0},      // 2^63: Value() is -2^63
	{"18446744073710600192", 0},     // 2^64 + 1Mi bytes: Value() is 1Mi
	{"18446744073709551617Mi", 0},   // 2^64 + 1 MiB: parsed as 2^63-1
	{"18446744073709551617M", 0},    // Value() is 10^6
	{"1e30", 0},                     // Value() is 0, which once meant the default size
	{"10E18", 0},                    // Value() is 0 too
	{"9223372036854775807k", 0},     // Value() is -1000
	{"0.000000000000000001E39", 0},  // 1e21: Value() is positive and wrong
	{"18446744073713745920000m", 0}, // 2^64 + 4Mi in thousandths
	{"1152921504606846977Ki", 0},    // past int64 in binary units
	{"8Ei", 0},
}

func TestEphemeralSizeRefusesWhatDoesNotFit(t *testing.T) {
	d := LVMDriver("topolvm.io")
	for _, tc := range sizeCases {
		got, err := d.EphemeralSize(map[string]string{ParamSize: tc.size}, "ext4")
		if tc.want != 0 {
			if err != nil || got != tc.want {
				t.Errorf("size %q: %d, %v; want %d", tc.size, got, err, tc.want)
			}
			continue
		}
		if code(err) != codes.InvalidArgument || got != 0 || !strings.Contains(err.Error(), strconv.Quote(tc.size)) {
			t.Errorf("size %q: %d, %v; want InvalidArgument naming %q", tc.size, got, err, tc.size)
		}
	}
}

// A size too large says how large a volume may be, in words a person reads.
func TestSizeMessages(t *testing.T) {
	d := LVMDriver("topolvm.io")
	for size, want := range map[string]string{
		"18446744073709551617Mi": `size "18446744073709551617Mi" is larger than the largest volume (4611686018427387904 bytes)`,
		"-1Gi":                   `size "-1Gi" is not positive`,
		"lots":                   `size "lots" is not a quantity of bytes`,
	} {
		_, err := d.EphemeralSize(map[string]string{ParamSize: size}, "ext4")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("size %q: %v, want %q", size, err, want)
		}
	}
}

// QuantityBytes is the same check for sizes that arrive as quantities (a
// PVC's request, read by the pod webhook): the quantity's own text is named.
func TestQuantityBytes(t *testing.T) {
	for _, tc := range sizeCases {
		q, err := resource.ParseQuantity(tc.size)
		if err != nil {
			continue
		}
		got, err := QuantityBytes(q)
		if tc.want == 0 {
			if code(err) != codes.InvalidArgument || got != 0 || !strings.Contains(err.Error(), q.String()) {
				t.Errorf("quantity %s: %d, %v; want InvalidArgument naming it", q.String(), got, err)
			}
			continue
		}
		if err != nil || got <= 0 || got > storage.MaxVolumeBytes || got > tc.want {
			t.Errorf("quantity %s: %d, %v", q.String(), got, err)
		}
	}
}

// Nothing is made of an inline volume whose size does not fit: the daemon
// is not asked, and the node remembers no ephemeral volume to remove.
func TestNodePublishRefusesHugeEphemeralSize(t *testing.T) {
	dir := t.TempDir()
	d := LVMDriver("topolvm.io")
	mount := &csi.VolumeCapability{AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{FsType: "ext4"}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER}}
	for _, size := range []string{"18446744073710600192", "18446744073709551617Mi", "1e30", "9223372036854775807k", "9223372036854775808"} {
		daemon := &ephemeralDaemon{}
		n := NewNode(d, "n1", daemon, okPublisher{}, dir, logr.Discard())
		_, err := n.NodePublishVolume(context.Background(), &csi.NodePublishVolumeRequest{VolumeId: "csi-huge", TargetPath: dir + "/csi-huge",
			VolumeCapability: mount, VolumeContext: map[string]string{ParamEphemeral: "true", ParamSize: size}})
		if code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), size) {
			t.Errorf("size %q: %v, want InvalidArgument naming the size", size, err)
		}
		if len(daemon.vols) != 0 {
			t.Errorf("size %q: the daemon made %v", size, daemon.vols)
		}
		if _, known, _ := n.eph.lookup(d.EphemeralName("csi-huge")); known {
			t.Errorf("size %q: a refused volume is indexed", size)
		}
	}
}

// CSI sizes are int64 on the wire: negative ones, and ranges no volume can
// meet, are refused before anything is made or grown.
func TestCapacityRangeRefusedBeforeAnythingIsMade(t *testing.T) {
	d := LVMDriver("topolvm.io")
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		r    *csi.CapacityRange
		says string
	}{
		{"negative required", &csi.CapacityRange{RequiredBytes: -1}, "required_bytes -1"},
		{"negative limit", &csi.CapacityRange{LimitBytes: -(1 << 20)}, "limit_bytes -1048576"},
		{"most negative", &csi.CapacityRange{RequiredBytes: -1 << 63}, "-9223372036854775808"},
		{"limit below required", &csi.CapacityRange{RequiredBytes: 2 * gib, LimitBytes: gib}, "required_bytes 2147483648 exceed limit_bytes 1073741824"},
		{"one over the largest", &csi.CapacityRange{RequiredBytes: storage.MaxVolumeBytes + 1}, "4611686018427387905 is larger than the largest volume (4611686018427387904 bytes)"},
		{"2^63-1", &csi.CapacityRange{RequiredBytes: 1<<63 - 1}, "9223372036854775807 is larger than the largest volume"},
		{"limit past the largest", &csi.CapacityRange{RequiredBytes: gib, LimitBytes: 1<<63 - 1}, "limit_bytes 9223372036854775807"},
	} {
		store := newMemStore()
		c := NewController(d, store, memCapacity{"n1": 5 * gib})
		_, err := c.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "pvc-x", VolumeCapabilities: mountCap("ext4"), CapacityRange: tc.r})
		if code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("create, %s: %v; want InvalidArgument saying %q", tc.name, err, tc.says)
		}
		if len(store.lvs) != 0 {
			t.Errorf("create, %s: made %v", tc.name, store.lvs)
		}

		if _, err := c.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "pvc-y", VolumeCapabilities: mountCap("ext4"), CapacityRange: &csi.CapacityRange{RequiredBytes: gib}}); err != nil {
			t.Fatal(err)
		}
		_, err = c.ControllerExpandVolume(ctx, &csi.ControllerExpandVolumeRequest{VolumeId: "pvc-y", CapacityRange: tc.r})
		if code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("expand, %s: %v; want InvalidArgument saying %q", tc.name, err, tc.says)
		}
		if got := store.lvs["pvc-y"].Spec.Size.Value(); got != gib {
			t.Errorf("expand, %s: the volume is now %d bytes", tc.name, got)
		}
	}
}
