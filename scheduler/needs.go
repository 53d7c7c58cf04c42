package scheduler

import (
	"fmt"
	"sort"
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

// classBytes reads driver d's capacity annotations (class -> bytes);
// bad names the first malformed one, whose class is left out.
func classBytes(annotations map[string]string, d csi.Driver) (out map[string]int64, bad error) {
	for k, v := range annotations {
		class, ok := d.CapacityClass(k)
		if !ok {
			continue
		}
		n, err := csi.ParseCapacity(v)
		if err != nil {
			bad = fmt.Errorf("annotation %s=%q is not a number of bytes", k, v)
			continue
		}
		if out == nil {
			out = map[string]int64{}
		}
		out[class] = n
	}
	return out, bad
}

// podNeeds reads the capacity annotations the pod webhook wrote, in a
// stable order. A malformed value is an error: the pod's author or another
// mutator wrote it, and guessing could place the pod where it cannot run.
func podNeeds(pod *corev1.Pod, drivers []csi.Driver) ([]need, error) {
	var out []need
	for _, d := range drivers {
		classes, err := classBytes(pod.Annotations, d)
		if err != nil {
			return nil, fmt.Errorf("pod %w", err)
		}
		for class, n := range classes {
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

// annotationKeys are the node annotation keys of the configured drivers,
// built once: full-object requests read every annotation of thousands of
// nodes per call.
type annotationKeys struct {
	drivers   []csi.Driver
	prefixes  []string // capacity.<driver>/
	revisions []string // <driver>/capacity-revision
}

func newAnnotationKeys(drivers []csi.Driver) *annotationKeys {
	k := &annotationKeys{drivers: drivers}
	for _, d := range drivers {
		k.prefixes = append(k.prefixes, d.CapacityAnnotationPrefix())
		k.revisions = append(k.revisions, d.CapacityRevisionAnnotation())
	}
	return k
}

// keep selects the node annotations figures needs.
func (k *annotationKeys) keep(key string) bool {
	for i := range k.prefixes {
		if strings.HasPrefix(key, k.prefixes[i]) || key == k.revisions[i] {
			return true
		}
	}
	return false
}

// figures parses a node's capacity annotations. A missing or malformed
// annotation means the class is not on the node.
func (k *annotationKeys) figures(annotations map[string]string) nodeFigures {
	f := nodeFigures{free: make(map[classKey]int64, len(annotations)), revision: map[string]int64{}}
	for key, v := range annotations {
		for i, d := range k.drivers {
			if key == k.revisions[i] {
				if n, err := csi.ParseCapacity(v); err == nil && n > 0 {
					f.revision[d.Name] = n
				}
				break
			}
			if strings.HasPrefix(key, k.prefixes[i]) {
				class, _ := d.CapacityClass(key)
				if n, err := csi.ParseCapacity(v); err == nil {
					f.free[classKey{d.Name, class}] = n
				}
				break
			}
		}
	}
	return f
}
