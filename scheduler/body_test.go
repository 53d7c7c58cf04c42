package scheduler

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
)

// countingReader counts the bytes the handler reads from a body.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// endless is an unbounded body of spaces (valid JSON white space).
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// namesBody is a valid filter request for names, padded with trailing
// white space to size bytes when size is larger.
func namesBody(t *testing.T, size int) string {
	t.Helper()
	names := []string{"n1"}
	b, err := json.Marshal(extenderv1.ExtenderArgs{Pod: capPod("u", nil), NodeNames: &names})
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + strings.Repeat(" ", max(size-len(b), 0))
}

func TestBodyOverTheLimit(t *testing.T) {
	const limit = 4096
	h := testExtender(t, nil).Handler(limit, http.NotFoundHandler())
	for _, tc := range []struct {
		name     string
		length   int64 // Content-Length; -1: unknown (chunked)
		maxRead  int64
		wantCode int
	}{
		// Announced too large: refused before a byte is read.
		{"announced", 1 << 40, 0, http.StatusRequestEntityTooLarge},
		// Not announced: read through http.MaxBytesReader, which stops
		// one byte past the limit.
		{"chunked", -1, limit + 1, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &countingReader{r: endless{}}
			r := httptest.NewRequest(http.MethodPost, FilterPath, body)
			r.ContentLength = tc.length
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.wantCode || !strings.Contains(w.Body.String(), "limit of 4096 bytes (--max-request-bytes") ||
				!strings.Contains(w.Body.String(), "nodeCacheCapable: true") {
				t.Errorf("%d %q", w.Code, w.Body.String())
			}
			if got := body.n.Load(); got > tc.maxRead {
				t.Errorf("read %d bytes of the body, want at most %d", got, tc.maxRead)
			}
			if w.Header().Get("Connection") != "close" {
				t.Errorf("the connection stays open for the rest of the body: %v", w.Header())
			}
		})
	}
	// Exactly the limit is accepted, announced or not.
	for _, length := range []int64{limit, -1} {
		r := httptest.NewRequest(http.MethodPost, FilterPath, strings.NewReader(namesBody(t, limit)))
		r.ContentLength = length
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Errorf("a body of exactly the limit (Content-Length %d): %d %s", length, w.Code, w.Body.String())
		}
	}
}

// TestBodyErrorsOverHTTP sends what a broken or hostile client could over
// a real connection: each gets its status and a message that says what is
// wrong, and the server goes on answering.
func TestBodyErrorsOverHTTP(t *testing.T) {
	e := testExtender(t, nil)
	srv := httptest.NewServer(e.Handler(1<<20, http.NotFoundHandler()))
	defer srv.Close()
	valid := namesBody(t, 0)
	deep := `{"Pod":{},"Nodes":` + strings.Repeat(`{"items":[`, maxDepth) + `}`
	for _, tc := range []struct {
		name, body string
		code       int
		msg        string
	}{
		{"empty", ``, http.StatusBadRequest, "the request body is empty"},
		{"truncated JSON", valid[:len(valid)/2], http.StatusBadRequest, "unexpected end of JSON input"},
		{"deeply nested", deep, http.StatusBadRequest, "in Nodes: JSON at offset"},
		{"nested in the pod", `{"Pod":` + strings.Repeat("[", maxDepth+1), http.StatusBadRequest, "nested deeper than 10000 levels"},
		{"pod of the wrong type", `{"Pod":"web","NodeNames":[]}`, http.StatusBadRequest, "decode Pod: json: cannot unmarshal string"},
		{"names of the wrong type", `{"Pod":{},"NodeNames":"n1"}`, http.StatusBadRequest, `in NodeNames: JSON at offset 22: want '[', got '"'`},
		{"nodes of the wrong type", `{"Pod":{},"Nodes":[]}`, http.StatusBadRequest, `in Nodes: JSON at offset 18: want '{', got '['`},
		{"not JSON", `<ExtenderArgs/>`, http.StatusBadRequest, `JSON at offset 0: want '{', got '<'`},
		{"binary", "\x00\xff\xfe", http.StatusBadRequest, "malformed ExtenderArgs"},
		{"no pod", `{"NodeNames":["n1"]}`, http.StatusBadRequest, "the request has no Pod"},
	} {
		resp, err := http.Post(srv.URL+FilterPath, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(msg), tc.msg) {
			t.Errorf("%s: %d %q, want %d with %q", tc.name, resp.StatusCode, msg, tc.code, tc.msg)
		}
	}

	// A body shorter than its Content-Length: the client announces 1000
	// bytes, sends 10 and stops writing.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n%s", FilterPath, valid[:10])
	_ = conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), "the request body ended after 10 of the 1000 bytes its Content-Length announced") {
		t.Errorf("short body: %d %q", resp.StatusCode, msg)
	}

	// Still serving.
	resp, err = http.Post(srv.URL+FilterPath, "application/json", strings.NewReader(valid))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after the bad requests: %d", resp.StatusCode)
	}
}

// TestRequestCaps: a request listing more nodes or kept annotations than
// the extender reads is refused (413) as soon as the scanner counts one too
// many, whatever its size in bytes.
func TestRequestCaps(t *testing.T) {
	h := testExtender(t, nil).Handler(DefaultBodyLimit, http.NotFoundHandler())
	pod, _ := json.Marshal(capPod("u", nil))
	items := func(n int, item func(i int) string) string {
		s := make([]string, n)
		for i := range s {
			s[i] = item(i)
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		name, body, msg string
	}{
		{"names", `{"Pod":` + string(pod) + `,"NodeNames":[` + items(maxRequestNodes+1, func(i int) string { return strconv.Quote("n" + strconv.Itoa(i)) }) + `]}`,
			"more than 20000 node names"},
		{"nodes", `{"Pod":` + string(pod) + `,"Nodes":{"items":[` + items(maxRequestNodes+1, func(i int) string { return `{"metadata":{"name":"n` + strconv.Itoa(i) + `"}}` }) + `]}}`,
			"more than 20000 nodes"},
		{"annotations", `{"Pod":` + string(pod) + `,"Nodes":{"items":[` + items(maxRequestAnnotations/10+1, func(i int) string {
			return `{"metadata":{"name":"n` + strconv.Itoa(i) + `","annotations":{` + annotations(i*10, 10) + `}}}`
		}) + `]}}`, "more than 100000 node annotations"},
	} {
		code, out := post(t, h, FilterPath, tc.body)
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(out, tc.msg) {
			t.Errorf("%s: %d %q", tc.name, code, out)
		}
	}
	// At the caps, accepted.
	names := make([]string, maxRequestNodes)
	nodes := make([]corev1.Node, maxRequestNodes)
	for i := range names {
		names[i] = "n" + strconv.Itoa(i)
		nodes[i] = testNode(names[i], nodeAnn(map[string]int64{"00default": gi, "a": gi, "b": gi, "c": gi}, 1))
	}
	for _, args := range []extenderv1.ExtenderArgs{{Pod: capPod("u", nil), NodeNames: &names}, {Pod: capPod("u", nil), Nodes: &corev1.NodeList{Items: nodes}}} {
		body, _ := json.Marshal(args)
		if code, out := post(t, h, FilterPath, string(body)); code != http.StatusOK {
			t.Errorf("at the caps: %d %.200s", code, out)
		}
	}
}

// blockingReader hands out one byte, then blocks until released.
type blockingReader struct {
	started, release chan struct{}
	sent             bool
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		close(b.started)
		p[0] = '{'
		return 1, nil
	}
	<-b.release
	return 0, io.EOF
}

// TestBodySlots: no more than bodySlots bodies are held at once; a further
// request waits (and gives up when its context ends) without reading a
// byte of its body.
func TestBodySlots(t *testing.T) {
	in := newBodies(1 << 20)
	release := make(chan struct{})
	done := make(chan error, bodySlots)
	for range bodySlots {
		br := &blockingReader{started: make(chan struct{}), release: release}
		r := httptest.NewRequest(http.MethodPost, FilterPath, br)
		r.ContentLength = -1
		go func() {
			_, finish, err := in.read(context.Background(), httptest.NewRecorder(), r)
			if err == nil {
				finish()
			}
			done <- err
		}()
		<-br.started // it holds a slot
	}
	body := &countingReader{r: strings.NewReader("{}")}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := in.read(ctx, httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, FilterPath, body))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "gave up waiting") || body.n.Load() != 0 {
		t.Errorf("with every slot taken: %v, %d bytes read", err, body.n.Load())
	}
	if code := inputErrorCode(err); code != http.StatusServiceUnavailable {
		t.Errorf("status %d", code)
	}
	close(release)
	for range bodySlots {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	got, finish, err := in.read(context.Background(), httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, FilterPath, strings.NewReader("{}")))
	if err != nil || string(got) != "{}" {
		t.Fatalf("after the slots were freed: %q %v", got, err)
	}
	finish()
}

// TestBodyBuffers: requests one after another reuse a buffer; a buffer far
// larger than the body it held goes.
func TestBodyBuffers(t *testing.T) {
	in := newBodies(64 << 20)
	read := func(size int) []byte {
		t.Helper()
		body, finish, err := in.read(context.Background(), httptest.NewRecorder(),
			httptest.NewRequest(http.MethodPost, FilterPath, strings.NewReader(strings.Repeat(" ", size))))
		if err != nil || len(body) != size {
			t.Fatalf("read %d bytes: %d, %v", size, len(body), err)
		}
		finish()
		return body
	}
	first := read(8 << 20)
	if cap(first) != 8<<20 {
		t.Errorf("a body with a Content-Length of %d bytes went into a buffer of %d", 8<<20, cap(first))
	}
	if second := read(8 << 20); &second[0] != &first[0] {
		t.Error("the next body of the same size did not reuse the buffer")
	}
	read(1 << 20) // an eighth: the 8 MiB buffer goes
	if len(in.free) != 0 {
		t.Errorf("kept %d buffers, want the large one dropped", len(in.free))
	}
}
