package controller

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A Node that carries the last write is left alone; a Node made anew (a new
// UID, no annotations) or one whose annotations were removed is given the
// figures again, under a higher revision.
func TestRecheckPublishesOnlyWhatTheNodeLost(t *testing.T) {
	ctx := context.Background()
	r := newPublisherRig(t, nil, nil)
	r.daemon.available.Store(200)
	_, first := r.keep(t, r.p)
	if !r.p.shows(r.node(t)) {
		t.Fatalf("the Node does not show the write just made: %v", r.node(t).Annotations)
	}
	patches := r.patches.Load()
	wrote, err := r.p.recheck(ctx)
	if err != nil || wrote || r.patches.Load() != patches {
		t.Fatalf("recheck of a Node that shows the last write: wrote %v, %d patches, %v", wrote, r.patches.Load()-patches, err)
	}

	// The Node deleted and registered again by its kubelet.
	if err := r.c.Delete(ctx, r.node(t)); err != nil {
		t.Fatal(err)
	}
	anew := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode, UID: "uid-2"}}
	if err := r.c.Create(ctx, anew); err != nil {
		t.Fatal(err)
	}
	if r.p.shows(r.node(t)) {
		t.Fatal("a new Node without annotations counts as showing the last write")
	}
	second := recheckWrites(t, r, first)

	// The annotations removed from the same Node.
	n := r.node(t)
	n.Annotations = nil
	if err := r.c.Update(ctx, n); err != nil {
		t.Fatal(err)
	}
	recheckWrites(t, r, second)
}

// recheckWrites runs recheck, expecting a write of the current figures
// with a revision above after; it returns that revision.
func recheckWrites(t *testing.T, r *publisherRig, after int64) int64 {
	t.Helper()
	wrote, err := r.p.recheck(context.Background())
	if err != nil || !wrote {
		t.Fatalf("recheck: wrote %v, %v", wrote, err)
	}
	n := r.node(t)
	if n.Annotations["capacity.topolvm.io/ssd"] != "200" || n.Annotations["capacity.topolvm.io/00default"] != "200" {
		t.Errorf("annotations after recheck: %v", n.Annotations)
	}
	rev := r.revision(t)
	if rev <= after {
		t.Errorf("revision %d after recheck, want above %d", rev, after)
	}
	if !r.p.shows(n) {
		t.Errorf("the Node does not show the write recheck made: %v", n.Annotations)
	}
	return rev
}
