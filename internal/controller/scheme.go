package controller

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
)

// Scheme is the scheme of every program of the suite that talks to the API
// server: client-go's types and the suite's own.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, v1.AddToScheme(s)
}
