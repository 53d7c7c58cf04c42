package testutil

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	api "github.com/toposuite/toposuite/internal/daemonapi"
)

// Owner UIDs the ownership checks use.
const (
	firstOwner  = "0b2f8a6e-9a51-4a43-8d3a-0d1f1c6a2a01"
	secondOwner = "7c11d0e2-44c4-4f5e-9d43-5b8f3f2e9b02"
)

// CheckVolumeOwnership runs the daemon API's ownership rules against a real
// daemon, the same for lvmd and btrfsd: a volume belongs to the object that
// created it, a second object can neither adopt, grow nor remove it, and a
// volume that records no owner is removed only by a request that adopts
// it. size must fit the class twice; bigger is a size the class can grow
// a volume to.
func CheckVolumeOwnership(t *testing.T, d api.StorageDaemonClient, size, bigger int64) {
	t.Helper()
	ctx := Context(t)
	owned := func(what string, err error) {
		t.Helper()
		if !api.IsOwnedByAnother(err) {
			t.Errorf("%s: %v, want FailedPrecondition with reason %s", what, err, api.ReasonOwnedByAnother)
		}
	}
	present := func(name, owner string) {
		t.Helper()
		v, err := d.GetVolume(ctx, &api.GetVolumeRequest{Name: name})
		if err != nil {
			t.Fatalf("volume %s after a refused request: %v", name, err)
		}
		if v.GetVolume().GetOwnerUid() != owner {
			t.Errorf("volume %s owner %q, want %q", name, v.GetVolume().GetOwnerUid(), owner)
		}
	}

	v, err := d.CreateVolume(ctx, &api.CreateVolumeRequest{Name: "owned", SizeBytes: size, OwnerUid: firstOwner})
	if err != nil {
		t.Fatal(err)
	}
	if v.GetVolume().GetOwnerUid() != firstOwner {
		t.Errorf("created volume's owner %q, want %q", v.GetVolume().GetOwnerUid(), firstOwner)
	}
	if _, err := d.CreateVolume(ctx, &api.CreateVolumeRequest{Name: "owned", SizeBytes: size, OwnerUid: firstOwner}); err != nil {
		t.Errorf("the owner's retried create: %v", err)
	}
	_, err = d.CreateVolume(ctx, &api.CreateVolumeRequest{Name: "owned", SizeBytes: size, OwnerUid: secondOwner})
	owned("a second object's create of the same volume", err)
	_, err = d.ResizeVolume(ctx, &api.ResizeVolumeRequest{Name: "owned", SizeBytes: bigger, OwnerUid: secondOwner, AdoptUnowned: true})
	owned("a second object's resize", err)
	_, err = d.RemoveVolume(ctx, &api.RemoveVolumeRequest{Name: "owned", OwnerUid: secondOwner, AdoptUnowned: true})
	owned("a second object's removal", err)
	present("owned", firstOwner)
	if _, err := d.ResizeVolume(ctx, &api.ResizeVolumeRequest{Name: "owned", SizeBytes: bigger, OwnerUid: firstOwner}); err != nil {
		t.Errorf("the owner's resize: %v", err)
	}
	if _, err := d.RemoveVolume(ctx, &api.RemoveVolumeRequest{Name: "owned", OwnerUid: firstOwner}); err != nil {
		t.Errorf("the owner's removal: %v", err)
	}
	if _, err := d.GetVolume(ctx, &api.GetVolumeRequest{Name: "owned"}); status.Code(err) != codes.NotFound {
		t.Errorf("volume after its owner removed it: %v, want NotFound", err)
	}
	if _, err := d.RemoveVolume(ctx, &api.RemoveVolumeRequest{Name: "owned", OwnerUid: firstOwner}); err != nil {
		t.Errorf("the owner's removal of a removed volume: %v, want success", err)
	}

	// A volume that records no owner (made before volumes recorded one).
	if _, err := d.CreateVolume(ctx, &api.CreateVolumeRequest{Name: "unowned", SizeBytes: size}); err != nil {
		t.Fatal(err)
	}
	_, err = d.CreateVolume(ctx, &api.CreateVolumeRequest{Name: "unowned", SizeBytes: size, OwnerUid: firstOwner})
	owned("a create that would adopt a volume without owner", err)
	_, err = d.RemoveVolume(ctx, &api.RemoveVolumeRequest{Name: "unowned", OwnerUid: firstOwner})
	owned("a removal of a volume without owner, not adopting it", err)
	present("unowned", "")
	if _, err := d.RemoveVolume(ctx, &api.RemoveVolumeRequest{Name: "unowned", OwnerUid: firstOwner, AdoptUnowned: true}); err != nil {
		t.Errorf("a removal adopting a volume without owner: %v", err)
	}
	if _, err := d.GetVolume(ctx, &api.GetVolumeRequest{Name: "unowned"}); status.Code(err) != codes.NotFound {
		t.Errorf("adopted volume after its removal: %v, want NotFound", err)
	}

	// An owner UID that could not be a tag or xattr value.
	for _, bad := range []string{"a b", "x/../y", "toolong-" + string(make([]byte, 70))} {
		_, err := d.CreateVolume(ctx, &api.CreateVolumeRequest{Name: "badowner", SizeBytes: size, OwnerUid: bad})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("owner %q: %v, want InvalidArgument", bad, err)
		}
	}
	if _, err := d.GetVolume(ctx, &api.GetVolumeRequest{Name: "badowner"}); status.Code(err) != codes.NotFound {
		t.Errorf("volume with a refused owner: %v, want NotFound", err)
	}
}
