package render_test

import "k8s.io/apimachinery/pkg/runtime"

func rawJSON(s string) *runtime.RawExtension { return &runtime.RawExtension{Raw: []byte(s)} }
