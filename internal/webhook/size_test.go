package webhook

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

// hugeClaim is an unbound PVC of the driver asking for size, with limit
// ("" for none).
func hugeClaim(name, size, limit string) *corev1.PersistentVolumeClaim {
	pvc := claim(name, ptr.To("lvm"), size)
	if limit != "" {
		pvc.Spec.Resources.Limits = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(limit)}
	}
	return pvc
}

// Sizes past int64 (or past the largest volume) once wrapped into small or
// negative byte counts: 2^64 + 1Mi bytes counted as 4 MiB, and two 4 EiB
// volumes summed to a negative annotation. Such pods are refused, the
// denial naming the volume and the size.
func TestHugeSizesAreRefused(t *testing.T) {
	inline := func(name, size string) corev1.Volume {
		return inlineVolume(name, "topolvm.io", map[string]string{"size": size})
	}
	objs := append(cluster(),
		hugeClaim("wraps", "18446744073710600192", ""),         // 2^64 + 1Mi: Value() is 1Mi
		hugeClaim("clamped", "18446744073709551617Mi", ""),     // stored as 2^63-1
		hugeClaim("exponent", "1e30", ""),                      // Value() is 0
		hugeClaim("huge-limit", "1Gi", "9223372036854775807k"), // Value() is -1000
		hugeClaim("largest", "4Ei", ""),
	)
	for name, c := range map[string]struct {
		pod  *corev1.Pod
		says []string // in the denial
	}{
		"inline 2^64+1Mi bytes":  {pod("p", inline("v", "18446744073710600192")), []string{`volume "v"`, "18446744073710600192", "larger than the largest volume"}},
		"inline 2^64+1 MiB":      {pod("p", inline("v", "18446744073709551617Mi")), []string{`volume "v"`, "18446744073709551617Mi"}},
		"inline 2^63-1":          {pod("p", inline("v", "9223372036854775807")), []string{`volume "v"`, "9223372036854775807"}},
		"inline 2^63":            {pod("p", inline("v", "9223372036854775808")), []string{`volume "v"`, "9223372036854775808"}},
		"inline 1e30":            {pod("p", inline("v", "1e30")), []string{`volume "v"`, "1e30"}},
		"inline 2^63-1 k":        {pod("p", inline("v", "9223372036854775807k")), []string{`volume "v"`, "9223372036854775807k"}},
		"inline 0":               {pod("p", inline("v", "0")), []string{`volume "v"`, `"0"`, "not positive"}},
		"PVC 2^64+1Mi bytes":     {pod("p", pvcVolume("data", "wraps")), []string{`volume "data": claim "wraps" requests.storage: size "18446744073710600192" is larger than the largest volume (4611686018427387904 bytes)`}},
		"PVC clamped at 2^63-1":  {pod("p", pvcVolume("data", "clamped")), []string{`volume "data"`, "9223372036854775807"}},
		"PVC 1e30":               {pod("p", pvcVolume("data", "exponent")), []string{`volume "data"`, "1e30"}},
		"PVC limit past int64":   {pod("p", pvcVolume("data", "huge-limit")), []string{`volume "data": claim "huge-limit" limits.storage`, "9223372036854775807k"}},
		"generic ephemeral 1e30": {pod("p", ephemeralVolume("scratch", ptr.To("lvm"), "1e30")), []string{`volume "scratch": requests.storage: size "1e30"`}},
		"two of the largest inline volumes": {pod("p", inline("a", "4Ei"), inline("b", "4Ei")),
			[]string{`volume "b"`, "default class", "9223372036854775807 bytes"}},
		"five of the largest inline volumes": {pod("p", inline("a", "4Ei"), inline("b", "4Ei"), inline("c", "4Ei"), inline("d", "4Ei"), inline("e", "4Ei")),
			[]string{`volume "b"`}},
		"the largest PVC and inline volume": {pod("p", pvcVolume("a", "largest"), inline("b", "4Ei")),
			[]string{`volume "b"`}},
	} {
		t.Run(name, func(t *testing.T) {
			m := mutator(t, lvm, objs...)
			resp := m.Handle(context.Background(), request(t, c.pod))
			if resp.Allowed || resp.Result == nil {
				t.Fatalf("admitted, patches %v", resp.Patches)
			}
			for _, s := range c.says {
				if !strings.Contains(resp.Result.Message, s) {
					t.Errorf("denial %q does not say %q", resp.Result.Message, s)
				}
			}
		})
	}
}

// What fits is counted to the byte, however large: sums stay exact up to
// int64, and classes are summed apart.
func TestLargeSizesThatFitAreCounted(t *testing.T) {
	inline := func(name, size, class string) corev1.Volume {
		return inlineVolume(name, "topolvm.io", map[string]string{"size": size, "topolvm.io/device-class": class})
	}
	for name, c := range map[string]struct {
		pod  *corev1.Pod
		want map[string]int64
	}{
		"three of 2 EiB": {pod("p", inline("a", "2Ei", ""), inline("b", "2Ei", ""), inline("c", "2Ei", "")), map[string]int64{"": 6 << 60}},
		"the largest in two classes": {pod("p", inline("a", "4Ei", "x"), inline("b", "4Ei", "y")),
			map[string]int64{"x": 1 << 62, "y": 1 << 62}},
		"one byte": {pod("p", inline("a", "1", "")), map[string]int64{"": 4 * mib}},
	} {
		t.Run(name, func(t *testing.T) {
			m := mutator(t, lvm, cluster()...)
			got, err := m.Needs(context.Background(), ns, c.pod)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[string]map[string]int64{"": c.want}, got); diff != "" {
				t.Errorf("needs (-want +got):\n%s", diff)
			}
			if resp := m.Handle(context.Background(), request(t, c.pod)); !resp.Allowed {
				t.Errorf("refused: %+v", resp.Result)
			}
		})
	}
}
