package bench

import (
	"strings"
	"testing"
)

func TestAPIRequests(t *testing.T) {
	before := parseAPIRequests(`# HELP apiserver_request_total x
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="persistentvolumeclaims",scope="resource",subresource="",verb="PUT",version="v1"} 10
apiserver_request_total{code="409",component="apiserver",dry_run="",group="",resource="persistentvolumeclaims",scope="resource",subresource="status",verb="PUT",version="v1"} 1
`)
	after := parseAPIRequests(`apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="persistentvolumeclaims",scope="resource",subresource="",verb="PUT",version="v1"} 30
apiserver_request_total{code="409",component="apiserver",dry_run="",group="",resource="persistentvolumeclaims",scope="resource",subresource="status",verb="PUT",version="v1"} 6
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 4
apiserver_request_total_other{code="200"} 99
`)
	d := after.Since(before)
	if d["PUT persistentvolumeclaims 200"] != 20 || d["PUT persistentvolumeclaims/status 409"] != 5 || d["LIST pods 200"] != 4 || len(d) != 3 {
		t.Fatalf("since = %v", d)
	}
	got := d.Summary(2)
	want := "29 requests, 25 writes, 5 conflicts; most: PUT persistentvolumeclaims 200 20, PUT persistentvolumeclaims/status 409 5"
	if !strings.HasPrefix(got, want) || strings.Contains(got, "LIST") {
		t.Errorf("summary = %q, want %q", got, want)
	}
}
