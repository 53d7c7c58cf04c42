package scheduler

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
)

func post(t *testing.T, h http.Handler, path, body string) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

func TestHTTPFilterFullNodes(t *testing.T) {
	e := testExtender(t, nil)
	h := e.Handler(1<<20, http.NotFoundHandler())
	pod := capPod("u", map[string]string{"capacity.topolvm.io/00default": strconv.FormatInt(2*gi, 10)})
	nodes := &corev1.NodeList{Items: []corev1.Node{
		testNode("n1", nodeAnn(map[string]int64{"00default": 4 * gi}, 0)),
		testNode("n2", nodeAnn(map[string]int64{"00default": gi}, 0)),
		testNode("n3", nodeAnn(map[string]int64{"00default": 8 * gi}, 0)),
	}}
	body, _ := json.Marshal(extenderv1.ExtenderArgs{Pod: pod, Nodes: nodes})
	code, out := post(t, h, FilterPath, string(body))
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, out)
	}
	var res extenderv1.ExtenderFilterResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Nodes == nil || len(res.Nodes.Items) != 2 || res.Nodes.Items[0].Name != "n1" || res.Nodes.Items[1].Name != "n3" {
		t.Errorf("nodes %+v", res.Nodes)
	}
	if res.Nodes.Items[1].Status.Conditions[0].Message != nodes.Items[2].Status.Conditions[0].Message {
		t.Error("a node did not come back whole")
	}
	if len(res.FailedAndUnresolvableNodes) != 1 || !strings.Contains(res.FailedAndUnresolvableNodes["n2"], "not enough") || res.Error != "" {
		t.Errorf("failed %v, error %q", res.FailedAndUnresolvableNodes, res.Error)
	}

	code, out = post(t, h, PrioritizePath, string(body))
	var list extenderv1.HostPriorityList
	if err := json.Unmarshal([]byte(out), &list); code != http.StatusOK || err != nil || len(list) != 3 {
		t.Fatalf("prioritize %d %s", code, out)
	}
}

// TestHTTPFilterFullNodeRuns sends passing and failing nodes in every
// pattern of neighbours, in indented JSON (white space between the
// items), over a real connection: the answer must carry exactly the
// passing nodes, whole and in order, with a Content-Length that matches.
func TestHTTPFilterFullNodeRuns(t *testing.T) {
	e := testExtender(t, nil)
	srv := httptest.NewServer(e.Handler(1<<20, http.NotFoundHandler()))
	defer srv.Close()
	pod := capPod("u", map[string]string{"capacity.topolvm.io/00default": strconv.FormatInt(2*gi, 10)})
	for _, pattern := range []string{"p", "f", "pp", "ff", "pf", "fp", "ppfpp", "fpfpf", "pppfffppp", "fffpppfff"} {
		var nodes corev1.NodeList
		var want []string
		for i, c := range pattern {
			free := int64(gi)
			if c == 'p' {
				free = 4 * gi
				want = append(want, "n"+strconv.Itoa(i))
			}
			nodes.Items = append(nodes.Items, testNode("n"+strconv.Itoa(i), nodeAnn(map[string]int64{"00default": free}, 0)))
		}
		body, _ := json.MarshalIndent(extenderv1.ExtenderArgs{Pod: pod, Nodes: &nodes}, "", "  ")
		resp, err := http.Post(srv.URL+FilterPath, "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(out)) {
			t.Fatalf("%s: status %d, Content-Length %d, %d bytes read, %v", pattern, resp.StatusCode, resp.ContentLength, len(out), err)
		}
		var res extenderv1.ExtenderFilterResult
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%s: %v: %s", pattern, err, out)
		}
		var got []string
		for _, n := range res.Nodes.Items {
			got = append(got, n.Name)
			if len(n.Status.Conditions) == 0 {
				t.Errorf("%s: node %s did not come back whole", pattern, n.Name)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") || len(res.FailedAndUnresolvableNodes) != len(pattern)-len(want) {
			t.Errorf("%s: passed %v, want %v; failed %v", pattern, got, want, res.FailedAndUnresolvableNodes)
		}
	}
}

func TestHTTPFilterNames(t *testing.T) {
	e := testExtender(t, nil)
	h := e.Handler(1<<20, http.NotFoundHandler())
	for name, free := range map[string]int64{"n1": 4 * gi, "n2": gi} {
		n := testNode(name, nodeAnn(map[string]int64{"00default": free}, 0))
		e.nodes.Handler().OnAdd(&n, false)
	}
	pod := capPod("u", map[string]string{"capacity.topolvm.io/00default": strconv.FormatInt(2*gi, 10)})
	names := []string{"n1", "n2", "unknown"}
	body, _ := json.Marshal(extenderv1.ExtenderArgs{Pod: pod, NodeNames: &names})
	code, out := post(t, h, FilterPath, string(body))
	var res extenderv1.ExtenderFilterResult
	if err := json.Unmarshal([]byte(out), &res); code != http.StatusOK || err != nil {
		t.Fatalf("%d %s", code, out)
	}
	if res.Nodes != nil || res.NodeNames == nil || strings.Join(*res.NodeNames, ",") != "n1" || len(res.FailedAndUnresolvableNodes) != 2 {
		t.Errorf("result %+v", res)
	}
	// A malformed pod annotation is the scheduler's error to show.
	pod.Annotations["capacity.topolvm.io/00default"] = "-3"
	body, _ = json.Marshal(extenderv1.ExtenderArgs{Pod: pod, NodeNames: &names})
	_, out = post(t, h, FilterPath, string(body))
	if !strings.Contains(out, `"Error":"pod annotation capacity.topolvm.io/00default=\"-3\" is not a number of bytes"`) {
		t.Errorf("result %s", out)
	}
}

func TestHTTPBadRequests(t *testing.T) {
	e := testExtender(t, nil)
	h := e.Handler(64, http.NotFoundHandler())
	for _, tc := range []struct {
		path, body string
		code       int
		msg        string
	}{
		{FilterPath, `{"Pod":`, http.StatusBadRequest, "malformed ExtenderArgs"},
		{PrioritizePath, `{"Pod":{}, "NodeNames":[1]}`, http.StatusBadRequest, "malformed ExtenderArgs"},
		{FilterPath, `{"Pod":{"metadata":{"name":"` + strings.Repeat("x", 100) + `"}}}`, http.StatusRequestEntityTooLarge, "maxRequestBytes"},
	} {
		code, out := post(t, h, tc.path, tc.body)
		if code != tc.code || !strings.Contains(out, tc.msg) {
			t.Errorf("%s %q: %d %q", tc.path, tc.body, code, out)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, FilterPath, nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", w.Code)
	}
}
