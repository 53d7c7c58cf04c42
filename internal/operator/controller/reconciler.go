// Package controller is topolvm-operator's reconciler: it renders the
// suite's charts for the TopolvmCluster, applies and prunes them, and
// writes the status from the rollout and the nodes' reports.
package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/toposuite/toposuite/internal/api/operator/v1alpha1"
	"github.com/toposuite/toposuite/internal/operator/apply"
	"github.com/toposuite/toposuite/internal/operator/monitoring"
	"github.com/toposuite/toposuite/internal/operator/render"
	"github.com/toposuite/toposuite/internal/operator/report"
	"github.com/toposuite/toposuite/internal/operator/status"
)

// Finalizer holds a TopolvmCluster until what it made is deleted (the CRD
// according to spec.volumeDeletionPolicy).
const Finalizer = "operator.topolvm.io/cleanup"

// Reconciler reconciles the one TopolvmCluster.
type Reconciler struct {
	Client client.Client
	// APIReader reads past the cache (the inventory must not be stale).
	APIReader client.Reader
	Renderer  *render.Renderer
	// Namespace is where the suite is installed, the inventory is kept and
	// the node agents write their reports.
	Namespace string
	Log       logr.Logger
	// Metrics, when set, gets every status written (health gauges).
	Metrics *monitoring.Metrics
	// Discovery tells whether the cluster serves PrometheusRules.
	Discovery discovery.DiscoveryInterface
	// Events, when set, records the status's changes on the
	// TopolvmCluster (events.go).
	Events events.EventRecorder
	// written is the status this reconciler last wrote, per cluster: the
	// Events compare with it (events.go).
	written writtenStatus
}

// +kubebuilder:rbac:groups=operator.topolvm.io,resources=topolvmclusters,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=operator.topolvm.io,resources=topolvmclusters/status;topolvmclusters/finalizers,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch

// Reconcile renders, applies, prunes and reports.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := r.Log.WithValues("topolvmCluster", req.Name)
	var tc v1alpha1.TopolvmCluster
	if err := r.Client.Get(ctx, req.NamespacedName, &tc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	applier := &apply.Applier{Client: r.Client, Reader: r.APIReader, Namespace: r.Namespace, Log: log}
	if !tc.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, &tc, applier)
	}
	if !controllerutil.ContainsFinalizer(&tc, Finalizer) {
		patch := client.MergeFrom(tc.DeepCopy())
		controllerutil.AddFinalizer(&tc, Finalizer)
		if err := r.Client.Patch(ctx, &tc, patch); err != nil {
			return ctrl.Result{}, err
		}
	}

	onNodes, err := r.selectionNodes(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	objs, unresolved, err := r.Renderer.ClusterOn(&tc.Spec, r.Namespace, onNodes)
	if err != nil {
		// The spec cannot be rendered: only a spec change helps.
		r.writeStatus(ctx, &tc, []status.Problem{{Reason: v1alpha1.ReasonRenderFailed, Message: err.Error()}}, nil, nil, nil, err, "")
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	rule, note, err := alerts(r.Discovery, &tc, r.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	if rule != nil {
		objs = append(objs, rule)
	}
	if note != "" {
		log.Info("not applying the PrometheusRule", "why", note)
	}
	res, err := applier.Apply(ctx, &tc, objs)
	if err != nil {
		r.writeStatus(ctx, &tc, []status.Problem{{Reason: v1alpha1.ReasonApplyFailed, Message: err.Error()}}, nil, nil, nil, err, "")
		return ctrl.Result{}, err
	}
	if len(res.Pruned) > 0 {
		log.Info("applied and pruned", "applied", res.Applied, "pruned", res.Pruned)
	}
	rolling, components, err := r.rollout(ctx, objs)
	if err != nil {
		return ctrl.Result{}, err
	}
	nodes, problems, err := r.nodes(ctx, &tc)
	if err != nil {
		return ctrl.Result{}, err
	}
	rolling, problems = foldUnresolved(unresolved, rolling, problems)
	tc.Status.Applied = int32(res.Applied)
	return ctrl.Result{}, r.writeStatus(ctx, &tc, problems, rolling, nodes, components, nil, note)
}

// finalize deletes what the TopolvmCluster made, keeping the
// LogicalVolume CRD (and so every volume record) unless the spec says
// Delete, then lets the object go.
func (r *Reconciler) finalize(ctx context.Context, tc *v1alpha1.TopolvmCluster, applier *apply.Applier) error {
	if !controllerutil.ContainsFinalizer(tc, Finalizer) {
		return nil
	}
	keep := func(ref apply.Ref) bool {
		return ref.Kind == "CustomResourceDefinition" && tc.Spec.VolumeDeletionPolicy != v1alpha1.VolumeDeletionDelete
	}
	if err := applier.DeleteAll(ctx, tc, keep); err != nil {
		return err
	}
	patch := client.MergeFrom(tc.DeepCopy())
	controllerutil.RemoveFinalizer(tc, Finalizer)
	if r.Metrics != nil {
		r.Metrics.Forget(tc.Name)
	}
	return client.IgnoreNotFound(r.Client.Patch(ctx, tc, patch))
}

// rollout lists the applied Deployments and DaemonSets that have not
// rolled out yet, and how many pods each has available (for the metrics).
func (r *Reconciler) rollout(ctx context.Context, objs []*unstructured.Unstructured) ([]string, []monitoring.Component, error) {
	var out []string
	var components []monitoring.Component
	for _, o := range objs {
		key := client.ObjectKey{Namespace: o.GetNamespace(), Name: o.GetName()}
		var why string
		switch o.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			if err := r.Client.Get(ctx, key, &d); err != nil {
				return nil, nil, client.IgnoreNotFound(err)
			}
			why = status.NotRolledOut(&d)
			components = append(components, monitoring.DeploymentComponent(&d))
		case "DaemonSet":
			var d appsv1.DaemonSet
			if err := r.Client.Get(ctx, key, &d); err != nil {
				return nil, nil, client.IgnoreNotFound(err)
			}
			why = status.DaemonSetNotRolledOut(&d)
			components = append(components, monitoring.DaemonSetComponent(&d))
		}
		if why != "" {
			out = append(out, why)
		}
	}
	return out, components, nil
}

func (r *Reconciler) nodes(ctx context.Context, tc *v1alpha1.TopolvmCluster) ([]v1alpha1.NodeStatus, []status.Problem, error) {
	var nodes corev1.NodeList
	if err := r.Client.List(ctx, &nodes); err != nil {
		return nil, nil, err
	}
	reports, err := report.List(ctx, r.Client, r.Namespace)
	if err != nil {
		return nil, nil, err
	}
	ns, problems := status.Nodes(tc.Spec.NodeGroups, nodes.Items, reports)
	return ns, problems, nil
}

// writeStatus patches the status subresource; note, when set, is added to
// the Ready condition's message. A failure to write is returned only when
// nothing else failed (the caller's error says more).
func (r *Reconciler) writeStatus(ctx context.Context, tc *v1alpha1.TopolvmCluster, problems []status.Problem, rolling []string, nodes []v1alpha1.NodeStatus, components []monitoring.Component, cause error, note string) error {
	patch := client.MergeFrom(tc.DeepCopy())
	before, observedBefore := r.written.before(tc)
	tc.Status.ObservedGeneration = tc.Generation
	status.Set(&tc.Status.Conditions, tc.Generation, problems, rolling, note)
	if cause != nil {
		tc.Status.LastError = cause.Error()
	} else {
		tc.Status.LastError = ""
		tc.Status.Nodes = nodes
	}
	err := r.Client.Status().Patch(ctx, tc, patch)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil && r.Metrics != nil {
		r.Metrics.Observe(tc.Name, tc.Status, components)
	}
	if err == nil {
		r.written.remember(tc)
		r.recordTransitions(tc, before, observedBefore, cause != nil)
	}
	if err != nil {
		err = fmt.Errorf("write status: %w", err)
		if cause != nil {
			r.Log.Error(err, "while reporting", "cause", cause.Error())
			return nil
		}
	}
	return errors.Join(err)
}
