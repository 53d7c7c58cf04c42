package cli

import (
	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// RouteLibraryLogs sends what client-go (klog) and controller-runtime log
// through the binary's own logger, so a process has one log format. These
// libraries only offer process-wide setters, so this is called once, from a
// command's entry point, never from library code.
func RouteLibraryLogs(log logr.Logger) {
	klog.SetLogger(log)
	ctrllog.SetLogger(log)
}
