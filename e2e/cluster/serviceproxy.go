package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// ServiceProxyEnv names the environment variable that makes a binary
// embedding this package run as a service proxy (see RunHelperIfAsked).
const ServiceProxyEnv = "TOPOSUITE_CLUSTER_SERVICE_PROXY"

// proxyConfig: forward Listen to the ready endpoints of Service's Port.
type proxyConfig struct {
	Kubeconfig string `json:"kubeconfig"`
	Namespace  string `json:"namespace"`
	Service    string `json:"service"`
	Port       int    `json:"port"`
	Listen     string `json:"listen"`
}

// The cluster has no kube-proxy. kube-scheduler, a host process, reaches
// the scheduler extender (a Deployment behind a Service) through this
// proxy on the host-only bridge: it forwards each connection to one of
// the Service's ready endpoints (pod IPs, routed to the nodes), round
// robin, and follows the EndpointSlices. It returns only on failure.
func serviceProxy(ctx context.Context, cfg proxyConfig) error {
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var backends []string
	go func() {
		for {
			slices, err := cs.DiscoveryV1().EndpointSlices(cfg.Namespace).List(ctx, metav1.ListOptions{
				LabelSelector: discoveryv1.LabelServiceName + "=" + cfg.Service})
			if err == nil {
				var b []string
				for _, s := range slices.Items {
					for _, e := range s.Endpoints {
						if e.Conditions.Ready != nil && !*e.Conditions.Ready {
							continue
						}
						for _, a := range e.Addresses {
							b = append(b, net.JoinHostPort(a, strconv.Itoa(cfg.Port)))
						}
					}
				}
				mu.Lock()
				backends = b
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	var next atomic.Uint64
	log.Printf("forwarding %s to the ready endpoints of %s/%s port %d", cfg.Listen, cfg.Namespace, cfg.Service, cfg.Port)
	for {
		conn, err := l.Accept()
		if err != nil {
			return err
		}
		mu.Lock()
		b := backends
		mu.Unlock()
		if len(b) == 0 {
			conn.Close()
			continue
		}
		target := b[next.Add(1)%uint64(len(b))]
		go func() {
			defer conn.Close()
			up, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				log.Printf("dial %s: %v", target, err)
				return
			}
			defer up.Close()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(up, conn); done <- struct{}{} }()
			go func() { _, _ = io.Copy(conn, up); done <- struct{}{} }()
			<-done
		}()
	}
}

// RunHelperIfAsked runs the node init or the service proxy and exits when
// the process was started as one of them (by Up, which starts this same
// executable again); it returns otherwise. Call it first thing in main and
// in TestMain of tests that start a cluster.
func RunHelperIfAsked() {
	RunNodeInitIfAsked()
	v := os.Getenv(ServiceProxyEnv)
	if v == "" {
		return
	}
	var cfg proxyConfig
	if err := json.Unmarshal([]byte(v), &cfg); err != nil {
		log.Fatalf("service proxy: %v", err)
	}
	// It serves until killed.
	log.Fatalf("service proxy: %v", serviceProxy(context.Background(), cfg))
}

// startServiceProxy starts the proxy as a cluster process.
func (c *Cluster) startServiceProxy(name string, cfg proxyConfig) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	p, err := startProcess(spawn{name: name, path: self, args: []string{"service-proxy", "--lab", c.o.Dir},
		env: []string{ServiceProxyEnv + "=" + string(b)}, log: c.o.path("logs", name+".log")})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return c.st.update(func(s *State) { s.Processes = append(s.Processes, p) })
}
