//go:build integration

package csi_test

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
	"github.com/toposuite/toposuite/internal/testcluster"
	"github.com/toposuite/toposuite/internal/testutil"
)

// BenchmarkPVCBurst creates 100 PVCs of 1 GiB at once (Immediate binding)
// over three nodes, each with its own storage daemon, through the real
// csi-provisioner and kube-controller-manager (both at 100 QPS / 200 burst,
// as the charts ship the provisioner and the cluster harness raises the
// controller manager), and times until all are Bound (with per-PVC
// latency), then deletes them and times until every PV and volume is gone.
// There is no kubelet: this is the provisioning path only.
func BenchmarkPVCBurst(b *testing.B) {
	n := 100
	if s := os.Getenv("TOPOSUITE_BENCH_PVCS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	for _, driver := range []string{"topolvm.io", "topols.io"} {
		b.Run(driver, func(b *testing.B) { pvcBurst(b, driver, n) })
	}
}

func pvcBurst(b *testing.B, driver string, n int) {
	cl := testcluster.Start(b, testcluster.Options{Driver: driver})
	c, ctx := cl.Client, testutil.Context(b)
	sc := cl.StorageClass
	created := make([]time.Time, n)
	start := time.Now()
	for i := range n {
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("burst-%03d", i), Namespace: "default"},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: &sc,
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
		created[i] = time.Now()
		if err := c.Create(ctx, pvc); err != nil {
			b.Fatal(err)
		}
	}
	bound := map[string]time.Duration{}
	deadline := time.Now().Add(3 * time.Minute)
	for len(bound) < n && time.Now().Before(deadline) {
		var list corev1.PersistentVolumeClaimList
		if err := c.List(ctx, &list, client.InNamespace("default")); err != nil {
			b.Fatal(err)
		}
		for _, p := range list.Items {
			if _, seen := bound[p.Name]; !seen && p.Status.Phase == corev1.ClaimBound {
				i, _ := strconv.Atoi(p.Name[len("burst-"):])
				bound[p.Name] = time.Since(created[i])
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	all := time.Since(start)
	if len(bound) < n {
		b.Fatalf("only %d of %d PVCs Bound after 3 minutes", len(bound), n)
	}
	lat := make([]time.Duration, 0, n)
	for _, l := range bound {
		lat = append(lat, l)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(time.Millisecond)
	}
	perNode := map[string]int{}
	var lvs v1.LogicalVolumeList
	if err := c.List(ctx, &lvs); err == nil {
		for _, lv := range lvs.Items {
			perNode[lv.Spec.NodeName]++
		}
	}

	delStart := time.Now()
	if err := c.DeleteAllOf(ctx, &corev1.PersistentVolumeClaim{}, client.InNamespace("default")); err != nil {
		b.Fatal(err)
	}
	testutil.Eventually(b, "every PV and volume to go", func() bool {
		var pvs corev1.PersistentVolumeList
		var lvs v1.LogicalVolumeList
		return c.List(ctx, &pvs) == nil && len(pvs.Items) == 0 && c.List(ctx, &lvs) == nil && len(lvs.Items) == 0
	})
	del := time.Since(delStart)
	fmt.Printf("\n%s: %d PVCs of 1 GiB at once over 3 nodes (%v), Immediate, real csi-provisioner + kube-controller-manager at 100 QPS / 200 burst, no kubelet:\n"+
		"  all Bound after %s; per PVC p50 %s, p90 %s, max %s; deletion until every PV and volume is gone: %s\n",
		driver, n, perNode, all.Round(time.Millisecond), pct(0.5), pct(0.9), lat[len(lat)-1].Round(time.Millisecond), del.Round(time.Millisecond))
	b.ReportMetric(all.Seconds(), "all-bound-s")
	b.ReportMetric(del.Seconds(), "deletion-s")
}
