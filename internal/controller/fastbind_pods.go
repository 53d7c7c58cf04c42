package controller

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// podLists lists the pods of a namespace from the API server for many
// callers at once. A caller gets a list that started after it asked (so it
// shows every pod that existed when the caller decided to look), shared
// with every caller that asked before that list started; one list per
// namespace runs at a time. A burst of deleted claims costs a few lists,
// not one each.
type podLists struct {
	reader  client.Reader
	mu      sync.Mutex
	waiting map[string]*podList      // not started yet
	running map[string]chan struct{} // closed when the running list ends
}

type podList struct {
	ready  chan struct{}
	pods   []corev1.Pod
	err    error
	shared int // callers waiting for it
}

// podListTimeout bounds one list; its callers wait for it whatever their
// own deadlines (they give up on those alone).
const podListTimeout = 30 * time.Second

func newPodLists(r client.Reader) *podLists {
	return &podLists{reader: r, waiting: map[string]*podList{}, running: map[string]chan struct{}{}}
}

// list returns the pods of namespace ns, read after the call began.
func (l *podLists) list(ctx context.Context, ns string) ([]corev1.Pod, error) {
	l.mu.Lock()
	p := l.waiting[ns]
	if p == nil {
		p = &podList{ready: make(chan struct{})}
		l.waiting[ns] = p
		go l.run(ns, p, l.running[ns])
	}
	p.shared++
	l.mu.Unlock()
	select {
	case <-p.ready:
		return p.pods, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run starts p once the list running before it (prev, nil for none) ended.
func (l *podLists) run(ns string, p *podList, prev chan struct{}) {
	if prev != nil {
		<-prev
	}
	l.mu.Lock()
	delete(l.waiting, ns)
	l.running[ns] = p.ready
	l.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), podListTimeout)
	var pods corev1.PodList
	p.err = l.reader.List(ctx, &pods, client.InNamespace(ns))
	cancel()
	p.pods = pods.Items
	close(p.ready)

	l.mu.Lock()
	if l.running[ns] == p.ready {
		delete(l.running, ns)
	}
	l.mu.Unlock()
}

// podNamesClaim: the pod refers to the claim, directly or as one of its
// generic ephemeral volumes (named <pod>-<volume>), whatever its phase.
func podNamesClaim(pod *corev1.Pod, claim string) bool {
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim ||
			v.Ephemeral != nil && pod.Name+"-"+v.Name == claim {
			return true
		}
	}
	return false
}
