// Package webhook is topolvm-controller's pod mutating webhook. For each pod
// that still needs capacity of the controller's driver, it writes the bytes
// per device class, and per device class and lvcreate options class, into
// the pod's annotations (Driver.CapacityKey) and asks for one unit of the driver's extended resource
// (Driver.CapacityResource) in the first container, so that kube-scheduler
// sends the pod to the scheduler extender (managedResources), which reads
// the annotations.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-logr/logr"
	"google.golang.org/grpc/status"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/toposuite/toposuite/csi"
)

// PodMutatePath is the URL path the pod mutator is served on.
const PodMutatePath = "/pod/mutate"

// Keys the webhook reads outside the driver's own.
const (
	paramFSType = "csi.storage.k8s.io/fstype"
	// The default StorageClass annotations: the GA key and the beta one
	// the DefaultStorageClass admission plugin still honours.
	defaultClassKey     = "storageclass.kubernetes.io/is-default-class"
	defaultClassBetaKey = "storageclass.beta.kubernetes.io/is-default-class"
)

// PodMutator is the admission handler. It counts, per device class and
// lvcreate options class (the StorageClass's; a RAID volume takes more room
// than its size, so the extender checks it against the node's figure for
// that options class):
//   - PVCs not bound yet (no spec.volumeName) of a StorageClass of the driver;
//   - generic ephemeral volumes of a StorageClass of the driver (the default
//     StorageClass when the template names none), unless the PVC
//     <pod>-<volume> exists and is bound;
//   - CSI inline ephemeral volumes of the driver (size and device class from
//     the volume attributes).
//
// Sizes are what the driver will make: a PVC's storage request (the
// driver's default size without one) or an inline volume's size attribute,
// raised to the filesystem's minimum and rounded like CreateVolume does.
// Pods with nothing to count are left untouched. The mutation is
// idempotent: admitting a mutated pod again changes nothing.
type PodMutator struct {
	Driver csi.Driver
	// Cache reads StorageClasses (the manager's cached client).
	Cache client.Reader
	// API reads PersistentVolumeClaims from the API server itself: a pod
	// usually arrives right after its PVC, before a cache would show it.
	// It also reads a StorageClass the cache does not have yet.
	API     client.Reader
	Decoder admission.Decoder
	Log     logr.Logger
}

// SetupWithManager serves the mutator on the manager's webhook server at
// PodMutatePath and registers the StorageClass informer, so that the
// cache's sync (the controller's readiness) covers it.
func (m *PodMutator) SetupWithManager(mgr manager.Manager) error {
	if m.Cache == nil {
		m.Cache = mgr.GetClient()
	}
	if m.API == nil {
		m.API = mgr.GetAPIReader()
	}
	if m.Decoder == nil {
		m.Decoder = admission.NewDecoder(mgr.GetScheme())
	}
	// Before the manager starts, this only registers the informer.
	if _, err := mgr.GetCache().GetInformer(context.Background(), &storagev1.StorageClass{}); err != nil {
		return fmt.Errorf("StorageClass informer: %w", err)
	}
	mgr.GetWebhookServer().Register(PodMutatePath, &admission.Webhook{Handler: m})
	return nil
}

// Handle implements admission.Handler.
func (m *PodMutator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create {
		return admission.Allowed("")
	}
	mutated, err := m.mutate(ctx, req)
	var invalid *invalidVolumeError
	switch {
	case errors.As(err, &invalid):
		return admission.Denied(err.Error())
	case errors.Is(err, errDecode):
		return admission.Errored(http.StatusBadRequest, err)
	case err != nil:
		// Fail open, as failurePolicy Ignore does when the webhook is
		// down: the pod is scheduled without the extender, on
		// CSIStorageCapacity alone. Refusing it would stop pod creation
		// cluster-wide for a passing API error.
		m.Log.Error(err, "pod admitted without capacity requests", "namespace", req.Namespace, "name", req.Name)
		return admission.Allowed("").WithWarnings(fmt.Sprintf("%s: capacity requests not added: %v", m.Driver.Name, err))
	case mutated == nil:
		return admission.Allowed("")
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, mutated)
}

var errDecode = errors.New("decode pod")

// invalidVolumeError is a volume the driver can never make: the pod is refused.
type invalidVolumeError struct {
	volume string
	field  string // where in the volume, when that helps: a claim's requests.storage
	err    error
}

func (e *invalidVolumeError) Error() string {
	if e.field != "" {
		return fmt.Sprintf("volume %q: %s: %s", e.volume, e.field, status.Convert(e.err).Message())
	}
	return fmt.Sprintf("volume %q: %s", e.volume, status.Convert(e.err).Message())
}

// mutate returns the pod of the request with the capacity requests, or nil
// when it needs no capacity of the driver.
func (m *PodMutator) mutate(ctx context.Context, req admission.Request) ([]byte, error) {
	pod := &corev1.Pod{}
	if err := m.Decoder.Decode(req, pod); err != nil {
		return nil, fmt.Errorf("%w: %w", errDecode, err)
	}
	namespace := pod.Namespace
	if namespace == "" {
		namespace = req.Namespace
	}
	need, err := m.Needs(ctx, namespace, pod)
	if err != nil || len(need) == 0 {
		return nil, err
	}
	out, err := m.patch(req.Object.Raw, need)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errDecode, err)
	}
	m.Log.V(1).Info("capacity requests added", "namespace", namespace, "name", pod.Name, "generateName", pod.GenerateName, "bytesByOptionsClassAndClass", need)
	return out, nil
}

// Needs returns the bytes the pod still needs by lvcreate options class
// ("" for volumes made without one), then by device class of the driver
// ("" is the node's default class); empty when it needs none.
func (m *PodMutator) Needs(ctx context.Context, namespace string, pod *corev1.Pod) (map[string]map[string]int64, error) {
	need := map[string]map[string]int64{}
	d := m.Driver
	claims := map[string]bool{} // a PVC mounted by two volumes counts once
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			if claims[v.PersistentVolumeClaim.ClaimName] {
				continue
			}
			claims[v.PersistentVolumeClaim.ClaimName] = true
			pvc, err := m.claim(ctx, namespace, v.PersistentVolumeClaim.ClaimName)
			if err != nil {
				return nil, err
			}
			if pvc == nil {
				// Not there yet: the pod waits for it, and is scheduled
				// without the extender (CSIStorageCapacity still holds).
				m.Log.V(1).Info("pod refers to a missing PVC", "namespace", namespace, "name", pod.Name, "claim", v.PersistentVolumeClaim.ClaimName)
				continue
			}
			if err := m.countClaim(ctx, need, pvc, v.Name); err != nil {
				return nil, err
			}
		case v.Ephemeral != nil && v.Ephemeral.VolumeClaimTemplate != nil:
			// The ephemeral volume controller names the PVC <pod>-<volume>;
			// a pod named by generateName has no name yet, so no PVC either.
			pvc := &corev1.PersistentVolumeClaim{Spec: v.Ephemeral.VolumeClaimTemplate.Spec}
			if pod.Name != "" {
				existing, err := m.claim(ctx, namespace, pod.Name+"-"+v.Name)
				if err != nil {
					return nil, err
				}
				if existing != nil {
					pvc = existing
				}
			}
			if err := m.countClaim(ctx, need, pvc, v.Name); err != nil {
				return nil, err
			}
		case v.CSI != nil && v.CSI.Driver == d.Name:
			fs := d.FSTypes[0]
			if v.CSI.FSType != nil && *v.CSI.FSType != "" {
				fs = *v.CSI.FSType
			}
			size, err := d.EphemeralSize(v.CSI.VolumeAttributes, fs)
			if err != nil {
				return nil, &invalidVolumeError{volume: v.Name, err: err}
			}
			// Inline volumes take no options class.
			if err := m.addNeed(byClass(need, ""), v.CSI.VolumeAttributes[d.Param(csi.ParamDeviceClass)], size, v.Name); err != nil {
				return nil, err
			}
		}
	}
	return need, nil
}

// byClass returns the sums of options class options, made when missing.
func byClass(need map[string]map[string]int64, options string) map[string]int64 {
	if need[options] == nil {
		need[options] = map[string]int64{}
	}
	return need[options]
}

// claim reads a PVC from the API server; nil when there is none.
func (m *PodMutator) claim(ctx context.Context, namespace, name string) (*corev1.PersistentVolumeClaim, error) {
	pvc := &corev1.PersistentVolumeClaim{}
	err := m.API.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, pvc)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get PVC %s/%s: %w", namespace, name, err)
	}
	return pvc, nil
}

// countClaim adds a PVC (or a claim template) of the pod's volume to need
// when it is not bound yet and its StorageClass is the driver's.
func (m *PodMutator) countClaim(ctx context.Context, need map[string]map[string]int64, pvc *corev1.PersistentVolumeClaim, volume string) error {
	if pvc.Spec.VolumeName != "" || pvc.Status.Phase == corev1.ClaimBound {
		return nil
	}
	sc, err := m.storageClass(ctx, pvc.Spec.StorageClassName)
	if err != nil || sc == nil || sc.Provisioner != m.Driver.Name {
		return err
	}
	d := m.Driver
	fs := ""
	if pvc.Spec.VolumeMode == nil || *pvc.Spec.VolumeMode != corev1.PersistentVolumeBlock {
		fs = sc.Parameters[paramFSType]
		if fs == "" {
			fs = d.FSTypes[0]
		}
	}
	req, limit, err := claimBytes(pvc, volume)
	if err != nil {
		return err
	}
	size, err := d.VolumeBytes(req, limit, fs)
	if err != nil {
		// Provisioning will fail with this error; count what was asked for.
		size = max(req, limit)
		if size == 0 {
			size = d.DefaultSize
		}
	}
	return m.addNeed(byClass(need, sc.Parameters[d.Param(csi.ParamOptionsClass)]), sc.Parameters[d.Param(csi.ParamDeviceClass)], size, volume)
}

// storageClass returns the named StorageClass, the default one for a nil
// name (the PV controller gives such PVCs the default class), nil for ""
// (no class: a pre-provisioned PV) or a class that does not exist.
func (m *PodMutator) storageClass(ctx context.Context, name *string) (*storagev1.StorageClass, error) {
	if name == nil {
		return m.defaultStorageClass(ctx)
	}
	if *name == "" {
		return nil, nil
	}
	sc := &storagev1.StorageClass{}
	err := m.Cache.Get(ctx, client.ObjectKey{Name: *name}, sc)
	if apierrors.IsNotFound(err) {
		// Made just before the pod, perhaps: ask the API server.
		err = m.API.Get(ctx, client.ObjectKey{Name: *name}, sc)
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("get StorageClass %s: %w", *name, err)
	}
	return sc, nil
}

// defaultStorageClass picks the default StorageClass as the
// DefaultStorageClass admission plugin does: the newest of those marked
// default, the first by name on a tie; nil when none is.
func (m *PodMutator) defaultStorageClass(ctx context.Context) (*storagev1.StorageClass, error) {
	var list storagev1.StorageClassList
	if err := m.Cache.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("list StorageClasses: %w", err)
	}
	var best *storagev1.StorageClass
	for i := range list.Items {
		sc := &list.Items[i]
		if sc.Annotations[defaultClassKey] != "true" && sc.Annotations[defaultClassBetaKey] != "true" {
			continue
		}
		if best == nil || sc.CreationTimestamp.After(best.CreationTimestamp.Time) ||
			(sc.CreationTimestamp.Equal(&best.CreationTimestamp) && sc.Name < best.Name) {
			best = sc
		}
	}
	return best, nil
}

// patch writes the capacity requests into the pod's JSON: the driver's
// capacity annotations (replacing any capacity annotation of the driver
// the pod has) and the extended resource, request and limit 1, in the
// first container. It edits the JSON as read, so that only these fields
// differ. An options class whose name makes no annotation key gets none:
// CreateVolume refuses its volumes (InvalidArgument, on the claim's events).
func (m *PodMutator) patch(raw []byte, need map[string]map[string]int64) ([]byte, error) {
	var pod map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers come back as they were written
	if err := dec.Decode(&pod); err != nil {
		return nil, err
	}
	d := m.Driver
	meta := child(pod, "metadata")
	annotations := child(meta, "annotations")
	for k := range annotations {
		if _, _, ours := d.ParseCapacityKey(k); ours {
			delete(annotations, k)
		}
	}
	for options, classes := range need {
		for class, n := range classes {
			if key, ok := d.CapacityKey(class, options); ok {
				annotations[key] = strconv.FormatInt(n, 10)
			}
		}
	}
	if containers, ok := child(pod, "spec")["containers"].([]any); ok && len(containers) > 0 {
		if first, ok := containers[0].(map[string]any); ok {
			res := child(first, "resources")
			for _, key := range []string{"requests", "limits"} {
				child(res, key)[d.CapacityResource()] = "1"
			}
		}
	}
	return json.Marshal(pod)
}

// child returns m[key] as an object, making it when missing.
func child(m map[string]any, key string) map[string]any {
	if c, ok := m[key].(map[string]any); ok {
		return c
	}
	c := map[string]any{}
	m[key] = c
	return c
}

var _ admission.Handler = (*PodMutator)(nil)
