package scheduler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
)

// benchNode is a Node as a kubelet of a real cluster writes it: labels,
// the usual annotations, conditions, addresses, node info and an image
// list, plus the capacity annotations of both drivers.
func benchNode(i int) corev1.Node {
	name := fmt.Sprintf("worker-%05d.cluster.example.com", i)
	n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: "5e1c7a4e-1f4b-4d7e-9a51-0d1f1c6a2a01", ResourceVersion: "123456789",
		CreationTimestamp: metav1.Now(),
		Labels: map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
			"beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64", "node.kubernetes.io/instance-type": "m5.2xlarge",
			"topology.kubernetes.io/zone": "zone-" + strconv.Itoa(i%3), "topology.kubernetes.io/region": "region-1",
			"topology.topolvm.io/node": name, "topology.topols.io/node": name},
		Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true",
			"csi.volume.kubernetes.io/nodeid": `{"topolvm.io":"` + name + `","topols.io":"` + name + `"}`,
			"capacity.topolvm.io/00default":   strconv.FormatInt(int64(i%50+1)<<30, 10), "capacity.topolvm.io/ssd": strconv.FormatInt(int64(i%50+1)<<30, 10),
			"capacity.topols.io/00default": strconv.FormatInt(int64(i%20+1)<<30, 10), "topolvm.io/capacity-revision": "1763712000000000000"}},
		Spec: corev1.NodeSpec{PodCIDR: "10.244.0.0/24", PodCIDRs: []string{"10.244.0.0/24"}, ProviderID: "aws:///zone-a/i-0123456789abcdef0"},
	}
	rl := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"),
		corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceEphemeralStorage: resource.MustParse("100Gi")}
	n.Status.Capacity, n.Status.Allocatable = rl, rl
	for _, c := range []corev1.NodeConditionType{"MemoryPressure", "DiskPressure", "PIDPressure", "Ready", "NetworkUnavailable"} {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: c, Status: corev1.ConditionFalse,
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(), Reason: "Kubelet" + string(c), Message: "kubelet reports " + string(c)})
	}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}, {Type: corev1.NodeHostName, Address: name}}
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = 10250
	n.Status.NodeInfo = corev1.NodeSystemInfo{MachineID: "0123456789abcdef", SystemUUID: "ec2a0f00", BootID: "b00t", KernelVersion: "6.1.0",
		OSImage: "Debian GNU/Linux 12", ContainerRuntimeVersion: "containerd://1.7.0", KubeletVersion: "v1.36.3", OperatingSystem: "linux", Architecture: "amd64"}
	for j := range 20 {
		img := fmt.Sprintf("registry.example.com/team-%d/service-%d", j%5, j)
		n.Status.Images = append(n.Status.Images, corev1.ContainerImage{Names: []string{img + "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", img + ":v1." + strconv.Itoa(j)}, SizeBytes: int64(j+1) << 24})
	}
	return n
}

type benchCase struct {
	nodes     int
	nodeCache bool
}

// BenchmarkExtender measures filter and prioritize over real HTTP with two
// concurrent clients, for 100, 1000 and 5000 nodes, with node names
// (nodeCacheCapable) and with full Node objects, and prints a table.
func BenchmarkExtender(b *testing.B) {
	pod := capPod("bench", map[string]string{"capacity.topolvm.io/ssd": strconv.FormatInt(1<<30, 10)})
	fmt.Printf("\ntopolvm-scheduler over HTTP, 2 concurrent clients (upstream, full Node objects: 1000 nodes 50 filter req/s p50 39 ms; 5000 nodes 9.5 req/s p50 208 ms)\n")
	fmt.Printf("%-6s %-22s %-10s %9s %9s %9s %10s\n", "nodes", "mode", "verb", "req/s", "p50", "p99", "body")
	for _, bc := range []benchCase{{100, true}, {100, false}, {1000, true}, {1000, false}, {5000, true}, {5000, false}} {
		e := testExtender(b, nil)
		nodes := make([]corev1.Node, bc.nodes)
		names := make([]string, bc.nodes)
		for i := range nodes {
			nodes[i] = benchNode(i)
			names[i] = nodes[i].Name
			e.nodes.Handler().OnAdd(&nodes[i], false)
		}
		args := extenderv1.ExtenderArgs{Pod: pod}
		mode := "names (cache capable)"
		if bc.nodeCache {
			args.NodeNames = &names
		} else {
			args.Nodes = &corev1.NodeList{Items: nodes}
			mode = "full Node objects"
		}
		body, err := json.Marshal(args)
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(e.Handler(DefaultMaxRequestBytes, http.NotFoundHandler()))
		for _, verb := range []string{FilterPath, PrioritizePath} {
			n := max(40, 200000/bc.nodes)
			lat, wall := drive(b, srv.URL+verb, body, n)
			fmt.Printf("%-6d %-22s %-10s %9.1f %9s %9s %9.1fM\n", bc.nodes, mode, verb[1:], float64(n)/wall.Seconds(),
				lat[len(lat)/2].Round(10*time.Microsecond), lat[len(lat)*99/100].Round(10*time.Microsecond), float64(len(body))/(1<<20))
			b.ReportMetric(float64(n)/wall.Seconds(), fmt.Sprintf("%s-%d-%v-req/s", verb[1:], bc.nodes, bc.nodeCache))
		}
		srv.Close()
	}
}

// drive sends n requests from two clients and returns the sorted latencies.
func drive(b *testing.B, url string, body []byte, n int) ([]time.Duration, time.Duration) {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	start := time.Now()
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Like a real client, read the answer into a buffer sized by
			// Content-Length: io.Discard would read a response of megabytes
			// 8 KiB per system call and bill the server's figure for it.
			var got bytes.Buffer
			for range next {
				t0 := time.Now()
				resp, err := http.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				got.Reset()
				if resp.ContentLength > 0 {
					got.Grow(int(resp.ContentLength))
				}
				_, _ = got.ReadFrom(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat, wall
}
