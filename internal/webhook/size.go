package webhook

import (
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"

	"github.com/toposuite/toposuite/csi"
)

// claimBytes reads a PVC's storage request and limit (0 when unset) for
// the pod's volume that names it. The API server takes any positive
// quantity, 1e30 too; one that no volume can have refuses the pod
// (csi.QuantityBytes) instead of wrapping into a small count.
func claimBytes(pvc *corev1.PersistentVolumeClaim, volume string) (req, limit int64, err error) {
	claim := ""
	if pvc.Name != "" { // a generic ephemeral volume's template has none yet
		claim = fmt.Sprintf("claim %q ", pvc.Name)
	}
	for _, f := range []struct {
		field string
		list  corev1.ResourceList
		n     *int64
	}{{"requests.storage", pvc.Spec.Resources.Requests, &req}, {"limits.storage", pvc.Spec.Resources.Limits, &limit}} {
		q, ok := f.list[corev1.ResourceStorage]
		if !ok {
			continue
		}
		if *f.n, err = csi.QuantityBytes(q); err != nil {
			return 0, 0, &invalidVolumeError{volume: volume, field: claim + f.field, err: err}
		}
	}
	return req, limit, nil
}

// addNeed adds the bytes of the pod's volume to its class's sum. Each
// volume is at most storage.MaxVolumeBytes, but two such add up past
// int64, and a wrapped sum would tell the scheduler the pod needs little
// or nothing: that pod is refused.
func (m *PodMutator) addNeed(need map[string]int64, class string, n int64, volume string) error {
	if need[class] > math.MaxInt64-n {
		return &invalidVolumeError{volume: volume, err: fmt.Errorf("with it, the pod's %s volumes of %s need more than %d bytes together",
			m.Driver.Name, className(class), int64(math.MaxInt64))}
	}
	need[class] += n
	return nil
}

func className(class string) string {
	if class == "" {
		return "the default class"
	}
	return fmt.Sprintf("class %q", class)
}
