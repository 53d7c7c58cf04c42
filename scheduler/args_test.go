package scheduler

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
	kjson "sigs.k8s.io/json"

	"github.com/toposuite/toposuite/csi"
)

var testDrivers = []csi.Driver{{Name: "topolvm.io"}, {Name: "topols.io"}}

func testNode(name string, ann map[string]string) corev1.Node {
	return corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Message: "kubelet is \"ready\"\n"}},
			Capacity: corev1.ResourceList{corev1.ResourcePods: *resourceQuantity("110")}},
	}
}

func TestDecodeRequestFullNodes(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1",
		Annotations: map[string]string{"capacity.topolvm.io/ssd": "1024"}}}
	nodes := &corev1.NodeList{Items: []corev1.Node{
		testNode("n1", map[string]string{"capacity.topolvm.io/ssd": "4096", "topolvm.io/capacity-revision": "7", "other": "x"}),
		testNode("n\u00e9\"2", nil),
	}}
	body, err := json.Marshal(extenderv1.ExtenderArgs{Pod: pod, Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeRequest(body, newAnnotationKeys(testDrivers).keep)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Full || len(r.Nodes) != 2 || r.Names != nil {
		t.Fatalf("request = %+v", r)
	}
	if r.Pod.Name != "p" || r.Pod.Annotations["capacity.topolvm.io/ssd"] != "1024" {
		t.Errorf("pod = %+v", r.Pod.ObjectMeta)
	}
	want := map[string]string{"capacity.topolvm.io/ssd": "4096", "topolvm.io/capacity-revision": "7"}
	if diff := cmp.Diff(want, r.Nodes[0].Annotations); diff != "" {
		t.Errorf("kept annotations (-want +got):\n%s", diff)
	}
	if r.Nodes[1].Name != "n\u00e9\"2" {
		t.Errorf("escaped name = %q", r.Nodes[1].Name)
	}
	// The raw bytes are each node's JSON, decodable to the same node.
	for i, n := range r.Nodes {
		var back corev1.Node
		if err := json.Unmarshal(n.raw, &back); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(nodes.Items[i], back); diff != "" {
			t.Errorf("node %d round trip (-want +got):\n%s", i, diff)
		}
	}
}

func TestDecodeRequestNames(t *testing.T) {
	body := `{"Pod":{"metadata":{"name":"p"}},"Nodes":null,"NodeNames":["a","b"],"Extra":[1,{"x":null}]}`
	r, err := decodeRequest([]byte(body), newAnnotationKeys(testDrivers).keep)
	if err != nil {
		t.Fatal(err)
	}
	if r.Full || !cmp.Equal(r.Names, []string{"a", "b"}) {
		t.Errorf("request = %+v", r)
	}
}

func TestDecodeRequestRejects(t *testing.T) {
	for name, body := range map[string]string{
		"empty":                 ``,
		"not an object":         `[]`,
		"no pod":                `{"NodeNames":["a"]}`,
		"null pod":              `{"Pod":null}`,
		"pod of wrong type":     `{"Pod":{"metadata":{"name":5}}}`,
		"truncated":             `{"Pod":{},"Nodes":{"items":[{"metadata":{"name":"a"`,
		"trailing":              `{"Pod":{}} x`,
		"bad number":            `{"Pod":{},"Nodes":{"items":[{"spec":{"x":01}}]}}`,
		"bad literal":           `{"Pod":{},"Nodes":{"items":[{"spec":tru}]}}`,
		"bad escape":            `{"Pod":{},"Nodes":{"items":[{"metadata":{"name":"\q"}}]}}`,
		"control char":          "{\"Pod\":{},\"NodeNames\":[\"a\x01\"]}",
		"name not string":       `{"Pod":{},"NodeNames":[1]}`,
		"annotation not string": `{"Pod":{},"Nodes":{"items":[{"metadata":{"annotations":{"a":1}}}]}}`,
		"deep":                  `{"Pod":{},"x":` + strings.Repeat("[", maxDepth+2) + strings.Repeat("]", maxDepth+2) + `}`,
		"missing comma":         `{"Pod":{} "NodeNames":[]}`,
	} {
		if _, err := decodeRequest([]byte(body), newAnnotationKeys(testDrivers).keep); err == nil {
			t.Errorf("%s: accepted %q", name, body)
		}
	}
}

// FuzzDecodeRequest checks the hand-written decoder against encoding/json
// (case-sensitive, as kube-scheduler writes the keys): whatever the
// standard decoder accepts, ours accepts with the same names and kept
// annotations, the raw bytes of each node decode to the same node, and
// nothing panics.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(`{"Pod":{"metadata":{"name":"p","annotations":{"capacity.topolvm.io/a":"1"}}},"Nodes":{"items":[{"metadata":{"name":"n","annotations":{"capacity.topols.io/00default":"5","x":"y"}}}]}}`)
	f.Add(`{"Pod":{},"NodeNames":["a","b\u0041"]}`)
	f.Add(`{"Pod":{},"Nodes":{"items":null},"NodeNames":null}`)
	f.Add(`{"Pod":{},"Nodes":{"items":[{"metadata":null},{"metadata":{"name":null,"annotations":null}}]}}`)
	f.Add(`{"Pod":{},"Nodes":{"items":[{"metadata":{"annotations":{"capacity.topolvm.io/x":null}}}]},"x":[-1.5e+3,true,false,null,"\ud83d\ude00"]}`)
	keep := newAnnotationKeys(testDrivers).keep
	f.Fuzz(func(t *testing.T, body string) {
		got, err := decodeRequest([]byte(body), keep)
		var ref extenderv1.ExtenderArgs
		refErr := kjson.UnmarshalCaseSensitivePreserveInts([]byte(body), &ref)
		if refErr != nil || ref.Pod == nil || !utf8.ValidString(body) {
			return // we may accept what the standard decoder does not: we skip fields it checks
		}
		if err != nil {
			t.Fatalf("encoding/json accepts, we do not: %v\n%q", err, body)
		}
		if (ref.Nodes != nil) != got.Full {
			t.Fatalf("full = %v, encoding/json Nodes = %v", got.Full, ref.Nodes)
		}
		if ref.Nodes != nil {
			if len(ref.Nodes.Items) != len(got.Nodes) {
				t.Fatalf("%d nodes, encoding/json %d", len(got.Nodes), len(ref.Nodes.Items))
			}
			for i, n := range ref.Nodes.Items {
				if n.Name != got.Nodes[i].Name {
					t.Fatalf("node %d name %q, encoding/json %q", i, got.Nodes[i].Name, n.Name)
				}
				want := map[string]string{}
				for k, v := range n.Annotations {
					if keep(k) {
						want[k] = v
					}
				}
				if len(want) == 0 {
					want = nil
				}
				if !cmp.Equal(want, got.Nodes[i].Annotations, cmp.Comparer(func(a, b map[string]string) bool { return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b) })) {
					t.Fatalf("node %d annotations %v, encoding/json %v", i, got.Nodes[i].Annotations, want)
				}
				var back corev1.Node
				if err := kjson.UnmarshalCaseSensitivePreserveInts(got.Nodes[i].raw, &back); err != nil || back.Name != n.Name {
					t.Fatalf("node %d raw bytes %q do not decode to it: %v", i, got.Nodes[i].raw, err)
				}
			}
		}
		var refNames []string
		if ref.NodeNames != nil {
			refNames = *ref.NodeNames
		}
		if !cmp.Equal(refNames, got.Names, cmp.Comparer(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b) })) {
			t.Fatalf("names %q, encoding/json %q", got.Names, refNames)
		}
	})
}

func resourceQuantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}
