// Package scheme builds the one runtime.Scheme every program and test of the
// suite uses with the API server: client-go's types and the suite's own. It
// depends on nothing else of the suite, so any package (test helpers
// included) can use it without import cycles.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	operatorv1alpha1 "github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	v1 "github.com/toposuite/toposuite/internal/api/topolvm/v1"
)

// New returns a scheme with client-go's types and the suite's own.
func New() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := operatorv1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, v1.AddToScheme(s)
}
