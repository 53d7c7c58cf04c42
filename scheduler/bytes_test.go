package scheduler

import (
	"math"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestBytesArithmeticSaturates(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want int64
	}{
		{"add", addBytes(2, 3), 5},
		{"add past the top", addBytes(math.MaxInt64-1, 4611686018427387904), math.MaxInt64},
		{"sum of four 4 EiB needs", addBytes(addBytes(addBytes(1<<62, 1<<62), 1<<62), 1<<62), math.MaxInt64},
		{"sub", subBytes(5, 3), 2},
		{"sub below the bottom", subBytes(-5, math.MaxInt64), math.MinInt64},
		{"sub of a negative past the top", subBytes(math.MaxInt64-1, -5), math.MaxInt64},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

// Claims a user may write with any request and a selected node must not
// wrap the ledger's sum into room on a full node; a request no volume can
// have holds nothing.
func TestLedgerSumsDoNotWrap(t *testing.T) {
	e := testExtender(t, nil)
	_, pvcs, classes := e.ledger.Handlers()
	sc := "topolvm"
	classes.OnAdd(&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: sc}, Provisioner: "topolvm.io"}, false)
	claim := func(uid, size string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: uid, Namespace: "ns", UID: types.UID(uid),
			Annotations: map[string]string{selectedNodeAnnotation: "n1"}},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &sc, Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}}}
	}
	pvcs.OnAdd(claim("absurd", "1e30"), false)
	if got := reserved(e, "n1", classKey{Driver: "topolvm.io"}, 0); got != 0 {
		t.Errorf("a claim no volume can satisfy reserves %d, want 0", got)
	}
	for _, uid := range []string{"h1", "h2", "h3", "h4"} {
		pvcs.OnAdd(claim(uid, "4Ei"), false)
	}
	if got := reserved(e, "n1", classKey{Driver: "topolvm.io"}, 0); got != math.MaxInt64 {
		t.Errorf("four 4 EiB claims reserve %d, want the saturated %d", got, int64(math.MaxInt64))
	}
}
