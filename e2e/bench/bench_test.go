//go:build e2e

package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/toposuite/toposuite/e2e/cluster"
)

// The node inits and the service proxy are this test binary, started again.
func TestMain(m *testing.M) {
	cluster.RunHelperIfAsked()
	os.Exit(m.Run())
}

// envInt reads a positive count from the environment.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkProvisioning is issue #5's benchmark: on a local cluster of
// three kubelet nodes, for each driver, 20 single PVCs one at a time
// (Immediate), then 100 PVCs of 1 GiB at once, Immediate and again
// WaitForFirstConsumer with a pod each, with their deletion, CPU and memory
// per component and where the time goes; first with kube-controller-manager
// raised to 100 QPS / 200 burst, then at its defaults (20/30). The charts
// are installed as shipped, then upgraded with fast binding on
// (EnableFastBinding), which they ship off. The floor (floor.go) follows
// the drivers in each setting. Figures are printed, then a summary table.
// TOPOSUITE_BENCH_PVCS and TOPOSUITE_BENCH_SINGLE change the counts,
// TOPOSUITE_BENCH_DIR the lab directory; -bench
// 'Provisioning/kcm-raised/lvm' picks a setting and a driver.
func BenchmarkProvisioning(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("the local cluster needs root")
	}
	var rows []Row
	for _, s := range []struct {
		name, desc string
		defaults   bool
	}{
		{"kcm-raised", "kube-controller-manager raised to 100 QPS / 200 burst (its default is 20/30)", false},
		{"kcm-default", "kube-controller-manager at its defaults, 20 QPS / 30 burst", true},
	} {
		b.Run(s.name, func(b *testing.B) {
			rows = append(rows, benchSetting(b, s.name, s.desc, s.defaults)...)
		})
	}
	if len(rows) > 0 {
		fmt.Printf("\n== summary (%d PVCs of 1 GiB over 3 nodes; single: %d PVCs one at a time; load now %s)\n",
			envInt("TOPOSUITE_BENCH_PVCS", 100), envInt("TOPOSUITE_BENCH_SINGLE", 20), loadavg())
		WriteTable(os.Stdout, rows)
	}
}

func benchSetting(b *testing.B, name, desc string, defaults bool) []Row {
	ctx := context.Background()
	// TOPOSUITE_BENCH_REPO takes the charts from another checkout, to
	// compare chart settings (the images stay this repository's).
	o := cluster.Options{Dir: os.Getenv("TOPOSUITE_BENCH_DIR"), Out: os.Stdout, DiskSize: 128 << 30, Repo: os.Getenv("TOPOSUITE_BENCH_REPO")}
	if o.Repo != "" {
		wd, err := os.Getwd()
		if err != nil {
			b.Fatal(err)
		}
		o.ImagesDir = filepath.Join(wd, "..", "..", "bin", "images")
		fmt.Printf("charts from %s\n", o.Repo)
	}
	if o.Dir == "" {
		o.Dir = "/var/tmp/toposuite-bench"
	}
	c, err := cluster.Up(ctx, o, cluster.UpOptions{DefaultControllerManagerQPS: defaults})
	if err != nil {
		b.Fatalf("cluster up: %v", err)
	}
	defer func() {
		if err := c.Down(context.Background()); err != nil {
			b.Errorf("cluster down: %v", err)
		}
	}()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		b.Fatal(err)
	}
	// The benchmark's own requests must not be what waits.
	cfg.QPS, cfg.Burst = 2000, 4000
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tl, err := StartTimeline(wctx, cs, dyn)
	if err != nil {
		b.Fatal(err)
	}
	r := &Runner{Cluster: c, CS: cs, Timeline: tl, Timeout: 5 * time.Minute, Logf: b.Logf}
	fmt.Printf("\n== setting %s: %s\n", name, desc)
	for _, d := range Drivers {
		if err := EnableFastBinding(ctx, c, cs, d); err != nil {
			b.Fatal(err)
		}
		fmt.Printf("   %s: fast binding on (controller.fastBinding=true)\n", d.Name)
	}
	for _, d := range Drivers {
		fmt.Printf("   %s csi-provisioner (chart as shipped): %s\n", d.Name, provisionerArgs(ctx, cs, d))
	}
	// This process too: its watches and requests, and the floor's server
	// and fast binding.
	host := map[int]string{os.Getpid(): "this benchmark"}
	for _, p := range c.ControlPlane() {
		host[p.PID] = p.Name
	}
	var inits []int
	for _, pid := range c.NodeInits() {
		inits = append(inits, pid)
		delete(host, pid)
	}
	meter := func() *Meter { return NewMeter(cs, host, inits, 200*time.Millisecond) }
	var rows []Row
	// keep takes a row of this setting into the summary and go test's
	// metrics.
	keep := func(b *testing.B, row Row) {
		row.Setting = name
		rows = append(rows, row)
		reportMetrics(b, row)
	}
	for _, d := range Drivers {
		b.Run(d.Short, func(b *testing.B) {
			row, err := benchDriver(ctx, r, d, meter)
			if err != nil {
				b.Error(err)
				cleanNamespace(ctx, r)
				return
			}
			keep(b, row)
		})
	}
	b.Run(Floor.Short, func(b *testing.B) { benchFloor(ctx, b, keep, r, c, cfg, host, meter) })
	return rows
}

// benchFloor measures the floor (floor.go) after the drivers, on the same
// cluster and with the same scenarios, first as any driver gets it
// (kube-controller-manager binds), then with the suite's fast binding.
func benchFloor(ctx context.Context, b *testing.B, keep func(*testing.B, Row), r *Runner, c *cluster.Cluster, cfg *rest.Config, host map[int]string, meter func() *Meter) {
	p, stop, err := StartFloor(ctx, c, r.CS)
	if err != nil {
		b.Errorf("floor: %v", err)
		return
	}
	defer stop()
	host[p.PID] = "floor csi-provisioner"
	fmt.Printf("\n-- floor: %s, a CSI driver that does nothing (served by this benchmark; its volumes are empty directories), with a csi-provisioner of its own on the host: %s\n",
		Floor.Name, strings.Join(FloorProvisionerArgs, " "))
	if err := r.EnsureClasses(ctx, Floor); err != nil {
		b.Error(err)
		return
	}
	measure := func(b *testing.B, label string) {
		row, err := floorRow(ctx, r, label, meter)
		if err != nil {
			b.Error(err)
			// While the floor's driver and provisioner still run: they
			// delete its PVs.
			cleanNamespace(ctx, r)
			return
		}
		keep(b, row)
	}
	b.Run("alone", func(b *testing.B) { measure(b, "floor") })
	b.Run("fast-binding", func(b *testing.B) {
		fb, err := StartFloorFastBinding(ctx, cfg)
		if err != nil {
			b.Error(err)
			return
		}
		measure(b, "floor + fast binding")
		fmt.Printf("    fast binding steps taken for the floor: %s\n", fb.Steps())
		if err := fb.Stop(); err != nil {
			b.Errorf("floor fast binding: %v", err)
		}
	})
}

// floorRow runs the floor's single PVCs and both bursts.
func floorRow(ctx context.Context, r *Runner, label string, meter func() *Meter) (Row, error) {
	row := Row{Driver: label}
	var err error
	fmt.Printf("\n-- %s\n", label)
	if row.Single, err = r.Single(ctx, Floor, envInt("TOPOSUITE_BENCH_SINGLE", 20)); err != nil {
		return row, fmt.Errorf("%s single PVCs: %w", label, err)
	}
	WriteResult(os.Stdout, row.Single)
	n := envInt("TOPOSUITE_BENCH_PVCS", 100)
	if row.Immediate, err = r.Burst(ctx, Floor, n, false, meter); err != nil {
		return row, fmt.Errorf("%s %d PVCs Immediate: %w", label, n, err)
	}
	WriteResult(os.Stdout, row.Immediate)
	if row.Waiting, err = r.Burst(ctx, Floor, n, true, meter); err != nil {
		return row, fmt.Errorf("%s %d PVCs WaitForFirstConsumer: %w", label, n, err)
	}
	WriteResult(os.Stdout, row.Waiting)
	return row, nil
}

// reportMetrics gives go test a row's figures.
func reportMetrics(b *testing.B, row Row) {
	b.ReportMetric(float64(row.Single.Bound.P50.Microseconds())/1000, "single-p50-ms")
	b.ReportMetric(row.Immediate.AllBound.Seconds(), "immediate-all-bound-s")
	b.ReportMetric(row.Immediate.Deletion.Seconds(), "immediate-deletion-s")
	if row.Waiting.Bound.N > 0 {
		b.ReportMetric(row.Waiting.AllBound.Seconds(), "wffc-all-bound-s")
		b.ReportMetric(row.Waiting.Deletion.Seconds(), "wffc-deletion-s")
	}
}

func benchDriver(ctx context.Context, r *Runner, d Driver, meter func() *Meter) (Row, error) {
	row := Row{Driver: d.Name}
	if err := r.EnsureClasses(ctx, d); err != nil {
		return row, err
	}
	n := envInt("TOPOSUITE_BENCH_PVCS", 100)
	fmt.Printf("\n-- %s\n", d.Name)
	var err error
	steps := stepCounter(ctx, r, d)
	if row.Single, err = r.Single(ctx, d, envInt("TOPOSUITE_BENCH_SINGLE", 20)); err != nil {
		return row, fmt.Errorf("%s single PVCs: %w", d.Name, err)
	}
	WriteResult(os.Stdout, row.Single)
	steps()
	if row.Immediate, err = r.Burst(ctx, d, n, false, meter); err != nil {
		return row, fmt.Errorf("%s %d PVCs Immediate: %w", d.Name, n, err)
	}
	WriteResult(os.Stdout, row.Immediate)
	steps()
	if row.Waiting, err = r.Burst(ctx, d, n, true, meter); err != nil {
		return row, fmt.Errorf("%s %d PVCs WaitForFirstConsumer: %w", d.Name, n, err)
	}
	WriteResult(os.Stdout, row.Waiting)
	steps()
	return row, nil
}

// stepCounter returns a function printing the fast binding steps
// topolvm-controller took since the last call (the rest were
// kube-controller-manager's), and the scheduler extender's work.
func stepCounter(ctx context.Context, r *Runner, d Driver) func() {
	last, err := FastBindingSteps(ctx, r.CS, d)
	if err != nil {
		fmt.Printf("    fast binding steps: %v\n", err)
	}
	lastExt, err := ReadExtender(ctx, r.CS)
	if err != nil {
		fmt.Printf("    scheduler extender: %v\n", err)
	}
	return func() {
		if now, err := FastBindingSteps(ctx, r.CS, d); err != nil {
			fmt.Printf("    fast binding steps: %v\n", err)
		} else {
			fmt.Printf("    fast binding steps taken by topolvm-controller: %s\n", StepsSince(last, now))
			last = now
		}
		if now, err := ReadExtender(ctx, r.CS); err != nil {
			fmt.Printf("    scheduler extender: %v\n", err)
		} else {
			if s := now.Since(lastExt); s != "" {
				fmt.Printf("    scheduler extender: %s\n", s)
			}
			lastExt = now
		}
	}
}

// provisionerArgs are the csi-provisioner container's arguments in the
// driver's controller Deployment.
func provisionerArgs(ctx context.Context, cs kubernetes.Interface, d Driver) string {
	deps, err := cs.AppsV1().Deployments(d.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	for _, dep := range deps.Items {
		for _, c := range dep.Spec.Template.Spec.Containers {
			if strings.Contains(c.Image, "csi-provisioner") {
				return fmt.Sprintf("%d replicas, %s", *dep.Spec.Replicas, strings.Join(c.Args, " "))
			}
		}
	}
	return "no csi-provisioner in " + d.Namespace
}

// cleanNamespace removes what a failed scenario left, so that the next
// driver starts clean.
func cleanNamespace(ctx context.Context, r *Runner) {
	zero := int64(0)
	_ = r.CS.CoreV1().Pods(Namespace).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	_ = r.CS.CoreV1().PersistentVolumeClaims(Namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
	_ = r.poll(ctx, "benchmark namespace empty", func() (bool, string) {
		pvs, err := r.CS.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return false, err.Error()
		}
		left := 0
		for _, pv := range pvs.Items {
			if pv.Spec.ClaimRef != nil && pv.Spec.ClaimRef.Namespace == Namespace {
				left++
			}
		}
		return left == 0, fmt.Sprintf("%d PVs left", left)
	})
}
