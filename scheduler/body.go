package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
)

// DefaultBodyLimit is the default of --max-request-bytes. The largest body
// kube-scheduler sends is the filter or prioritize request with full Node
// objects (nodeCacheCapable: false) and percentageOfNodesToScore: 100 in a
// cluster of 5,000 nodes, Kubernetes' supported maximum:
// TestBodySizeOf5000Nodes measures 32 MiB for kubelet-like nodes with 20
// images each and 59 MiB with the kubelet's cap of 50 images. With the
// default percentageOfNodesToScore kube-scheduler sends at most about 780
// nodes (9 MiB at 50 images), and with nodeCacheCapable: true 5,000 node
// names are 0.2 MiB.
const DefaultBodyLimit = 64 << 20

// bodySlots is how many request bodies are read and held at once; a
// further request waits for one to be done. kube-scheduler asks one
// question at a time (filter, then prioritize), so two leave room for a
// second scheduler or a leader handover, and the memory request bodies
// hold is at most two limits however many connections are open.
const bodySlots = 2

// errBodyTooLarge is a body over the limit: HTTP 413.
type errBodyTooLarge struct{ limit int64 }

func (e errBodyTooLarge) Error() string {
	return fmt.Sprintf("the request body is larger than the limit of %d bytes (--max-request-bytes, maxRequestBytes): "+
		"kube-scheduler sends full Node objects when the extender's nodeCacheCapable is false; "+
		"set nodeCacheCapable: true or raise the limit", e.limit)
}

// bodies lends the buffers request bodies are read into. A 5,000-node body
// is tens of megabytes to allocate and clear, so a buffer is kept for the
// next request; the most recently returned is lent first, so requests one
// after another keep reusing one buffer. A buffer much larger than the body
// it last held (left by an unusually large request) is dropped, so memory
// follows the bodies actually seen.
type bodies struct {
	limit int64
	slots chan struct{}
	mu    sync.Mutex
	free  [][]byte
}

func newBodies(limit int64) *bodies {
	return &bodies{limit: limit, slots: make(chan struct{}, bodySlots)}
}

// read waits for a slot and reads r's body into a lent buffer. Bodies that
// announce a Content-Length over the limit are refused before a byte is
// read; others are read through http.MaxBytesReader, which stops after
// limit+1 bytes and has the server close the connection instead of
// reading the rest. A body with a Content-Length is read into a buffer of
// exactly that size: growing a buffer as the bytes come would copy it
// and, at the end, double it. done must be called once the body and
// everything sliced from it are no longer used (the full-node answer is
// written from it).
func (b *bodies) read(ctx context.Context, w http.ResponseWriter, r *http.Request) (body []byte, done func(), err error) {
	if r.ContentLength > b.limit {
		return nil, nil, b.tooLarge(w)
	}
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("gave up waiting for one of the %d request body slots: %w", bodySlots, ctx.Err())
	}
	buf := b.take()
	release := func() {
		b.give(buf, len(body))
		<-b.slots
	}
	in := http.MaxBytesReader(w, r.Body, b.limit)
	if r.ContentLength >= 0 {
		n := int(r.ContentLength)
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		body = buf[:n]
		if got, err := io.ReadFull(in, body); err != nil {
			release()
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, nil, fmt.Errorf("the request body ended after %d of the %d bytes its Content-Length announced", got, n)
			}
			return nil, nil, fmt.Errorf("reading the request body: %w", err)
		}
		return body, release, nil
	}
	// No Content-Length (a chunked body): grow as needed, never past
	// limit+1, the most MaxBytesReader lets through.
	body = buf[:0]
	for {
		if len(body) == cap(body) {
			ceiling := int(min(b.limit, math.MaxInt64-1)) + 1
			grown := make([]byte, len(body), min(max(2*cap(body), 64<<10), ceiling))
			copy(grown, body)
			body, buf = grown, grown
		}
		n, err := in.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if err == io.EOF {
			return body, release, nil
		}
		if err != nil {
			release()
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return nil, nil, b.tooLarge(w)
			}
			return nil, nil, fmt.Errorf("reading the request body: %w", err)
		}
	}
}

// tooLarge refuses a body over the limit. The connection is closed after
// the answer: the server would otherwise read the rest of the body to
// reach the next request on it.
func (b *bodies) tooLarge(w http.ResponseWriter) error {
	w.Header().Set("Connection", "close")
	return errBodyTooLarge{b.limit}
}

func (b *bodies) take() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.free) == 0 {
		return nil
	}
	buf := b.free[len(b.free)-1]
	b.free = b.free[:len(b.free)-1]
	return buf
}

// give takes a buffer back after a body of used bytes; one over four
// times that (and over a megabyte) is left to the garbage collector.
func (b *bodies) give(buf []byte, used int) {
	if cap(buf) > 1<<20 && cap(buf) > 4*used {
		buf = nil
	}
	if buf == nil {
		return
	}
	b.mu.Lock()
	b.free = append(b.free, buf[:0])
	b.mu.Unlock()
}
