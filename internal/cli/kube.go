package cli

import (
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// KubeFlags say how to reach the API server.
type KubeFlags struct {
	Kubeconfig string
	QPS        float32
	Burst      int
}

// Register adds --kubeconfig, --kube-api-qps and --kube-api-burst.
func (f *KubeFlags) Register(fs *pflag.FlagSet) {
	fs.StringVar(&f.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, or $KUBECONFIG)")
	fs.Float32Var(&f.QPS, "kube-api-qps", 100, "queries per second to the API server")
	fs.IntVar(&f.Burst, "kube-api-burst", 200, "burst of queries to the API server")
}

// RestConfig builds the client configuration.
func (f *KubeFlags) RestConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if f.Kubeconfig != "" {
		rules.ExplicitPath = f.Kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = f.QPS, f.Burst
	return cfg, nil
}
