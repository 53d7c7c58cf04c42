package scheduler

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/toposuite/toposuite/csi"
)

// classKey names one device class of one driver; Class "" is the node's
// default class.
type classKey struct{ Driver, Class string }

func (k classKey) String() string {
	if k.Class == "" {
		return k.Driver + " default class"
	}
	return k.Driver + " class " + k.Class
}

// need is the bytes a pod still needs of one class.
type need struct {
	classKey
	Bytes int64
}

// defaultClassKey is what csi.Driver.CapacityAnnotation writes for class "".
var defaultClassKey = strings.TrimPrefix(csi.Driver{}.CapacityAnnotation(""), csi.Driver{}.CapacityAnnotationPrefix())

// podNeeds reads the capacity annotations the pod webhook wrote, in a
// stable order. A malformed value is an error: the pod's author or another
// mutator wrote it, and guessing could place the pod where it cannot run.
func podNeeds(pod *corev1.Pod, drivers []csi.Driver) ([]need, error) {
	var out []need
	for _, d := range drivers {
		prefix := d.CapacityAnnotationPrefix()
		for k, v := range pod.Annotations {
			class, ok := strings.CutPrefix(k, prefix)
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("pod annotation %s=%q is not a number of bytes", k, v)
			}
			if class == defaultClassKey {
				class = ""
			}
			if n > 0 {
				out = append(out, need{classKey{d.Name, class}, n})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Driver != out[j].Driver {
			return out[i].Driver < out[j].Driver
		}
		return out[i].Class < out[j].Class
	})
	return out, nil
}

// nodeFigures are a node's published free bytes per class and the
// revision of those figures (0: the node writes none).
type nodeFigures struct {
	free     map[classKey]int64
	revision map[string]int64 // per driver
}

// readFigures parses a node's capacity annotations for the drivers. A
// missing or malformed annotation means the class is not on the node.
func readFigures(annotations map[string]string, drivers []csi.Driver) nodeFigures {
	f := nodeFigures{free: map[classKey]int64{}, revision: map[string]int64{}}
	for _, d := range drivers {
		prefix := d.CapacityAnnotationPrefix()
		for k, v := range annotations {
			class, ok := strings.CutPrefix(k, prefix)
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				continue
			}
			if class == defaultClassKey {
				class = ""
			}
			f.free[classKey{d.Name, class}] = n
		}
		if v, ok := annotations[d.CapacityRevisionAnnotation()]; ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
				f.revision[d.Name] = n
			}
		}
	}
	return f
}

// keepAnnotation selects the node annotations readFigures needs.
func keepAnnotation(drivers []csi.Driver) func(string) bool {
	return func(k string) bool {
		for _, d := range drivers {
			if strings.HasPrefix(k, d.CapacityAnnotationPrefix()) || k == d.CapacityRevisionAnnotation() {
				return true
			}
		}
		return false
	}
}
