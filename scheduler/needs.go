package scheduler

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/toposuite/toposuite/csi"
)

// classKey names one device class of one driver, for volumes made with
// one lvcreate options class: Class "" is the node's default class,
// Options "" volumes made without an options class. Each has a figure of
// its own on the node (a raid1 volume takes twice its size, on two PVs).
type classKey struct{ Driver, Class, Options string }

func (k classKey) String() string {
	s := k.Driver + " class " + k.Class
	if k.Class == "" {
		s = k.Driver + " default class"
	}
	if k.Options != "" {
		s += " with options class " + k.Options
	}
	return s
}

// sameClass says whether o is a key of k's device class: volumes of both
// take the same volume group.
func (k classKey) sameClass(o classKey) bool { return k.Driver == o.Driver && k.Class == o.Class }

// need is the bytes a pod still needs of one class.
type need struct {
	classKey
	Bytes int64
}

// classBytes reads driver d's capacity annotations (key -> bytes), of
// classes and of classes with options classes (csi.Driver.CapacityKey);
// bad names the first malformed one, which is left out.
func classBytes(annotations map[string]string, d csi.Driver) (out map[classKey]int64, bad error) {
	for k, v := range annotations {
		class, options, ok := d.ParseCapacityKey(k)
		if !ok {
			continue
		}
		n, err := csi.ParseCapacity(v)
		if err != nil {
			bad = fmt.Errorf("annotation %s=%q is not a number of bytes", k, v)
			continue
		}
		if out == nil {
			out = map[classKey]int64{}
		}
		out[classKey{d.Name, class, options}] = n
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
		for k, n := range classes {
			if n > 0 {
				out = append(out, need{k, n})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].classKey, out[j].classKey
		if a.Driver != b.Driver {
			return a.Driver < b.Driver
		}
		if a.Class != b.Class {
			return a.Class < b.Class
		}
		return a.Options < b.Options
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
	options   []string // options-capacity.<driver>/
	revisions []string // <driver>/capacity-revision
}

func newAnnotationKeys(drivers []csi.Driver) *annotationKeys {
	k := &annotationKeys{drivers: drivers}
	for _, d := range drivers {
		k.prefixes = append(k.prefixes, d.CapacityAnnotationPrefix())
		k.options = append(k.options, d.OptionsCapacityAnnotationPrefix())
		k.revisions = append(k.revisions, d.CapacityRevisionAnnotation())
	}
	return k
}

// keep selects the node annotations figures needs.
func (k *annotationKeys) keep(key string) bool {
	for i := range k.prefixes {
		if strings.HasPrefix(key, k.prefixes[i]) || strings.HasPrefix(key, k.options[i]) || key == k.revisions[i] {
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
			if strings.HasPrefix(key, k.prefixes[i]) || strings.HasPrefix(key, k.options[i]) {
				class, options, ok := d.ParseCapacityKey(key)
				if n, err := csi.ParseCapacity(v); ok && err == nil {
					f.free[classKey{d.Name, class, options}] = n
				}
				break
			}
		}
	}
	return f
}
