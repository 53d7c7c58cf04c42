package scheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	extenderv1 "k8s.io/kube-scheduler/extender/v1"
)

// Verb paths: kube-scheduler calls <urlPrefix>/<filterVerb> and
// <urlPrefix>/<prioritizeVerb>.
const (
	FilterPath     = "/filter"
	PrioritizePath = "/prioritize"
)

// Handler serves the extender verbs; other paths go to next (health and
// metrics). Request bodies over maxBytes are refused, and at most
// bodySlots of them are held at once (body.go).
func (e *Extender) Handler(maxBytes int64, next http.Handler) http.Handler {
	in := newBodies(maxBytes)
	mux := http.NewServeMux()
	mux.Handle(FilterPath, e.verb("filter", in, e.serveFilter))
	mux.Handle(PrioritizePath, e.verb("prioritize", in, e.servePrioritize))
	mux.Handle("/", next)
	return mux
}

// Answers (small, but for the filter's Error or a node list) are pooled;
// request bodies have their own buffers (body.go), so a small answer
// buffer is never handed to a body of megabytes, nor the other way round.
var answers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// statusWriter remembers the status code for the metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// verb reads the body (bounded), decodes it, and hands it to serve. Bad
// input is a 400 with a message, too much of it a 413; a panic is a 500,
// never a crash.
func (e *Extender) verb(name string, in *bodies, serve func(http.ResponseWriter, *http.Request, *request, *bytes.Buffer)) http.Handler {
	keep := e.keys.keep
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: rw, code: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				e.log.Error(fmt.Errorf("%v", p), "panic serving an extender request", "verb", name)
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
			e.metrics.requests.WithLabelValues(name, strconv.Itoa(w.code)).Inc()
			e.metrics.duration.WithLabelValues(name).Observe(time.Since(start).Seconds())
		}()
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		// The server's own writer: http.MaxBytesReader looks for it to
		// close the connection after a body over the limit.
		body, done, err := in.read(r.Context(), rw, r)
		if err != nil {
			http.Error(w, err.Error(), inputErrorCode(err))
			return
		}
		// The answer may be written from the body's bytes: give the buffer
		// back only after serve.
		defer done()
		if len(body) == 0 {
			http.Error(w, "the request body is empty: want an ExtenderArgs object in JSON", http.StatusBadRequest)
			return
		}
		req, err := decodeRequest(body, keep)
		if err != nil {
			http.Error(w, "malformed ExtenderArgs: "+err.Error(), inputErrorCode(err))
			return
		}
		out := answers.Get().(*bytes.Buffer)
		out.Reset()
		defer answers.Put(out)
		serve(w, r, req, out)
	})
}

// inputErrorCode is the status for a request the extender cannot read:
// too large (413), the client gone or the server stopping while it waited
// for a body slot (503), or malformed (400).
func inputErrorCode(err error) int {
	var tooBig errBodyTooLarge
	var tooMany errTooMany
	switch {
	case errors.As(err, &tooBig), errors.As(err, &tooMany):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

func writeJSON(w http.ResponseWriter, out *bytes.Buffer) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(out.Len()))
	_, _ = w.Write(out.Bytes())
}

func (e *Extender) serveFilter(w http.ResponseWriter, r *http.Request, req *request, out *bytes.Buffer) {
	verdicts, err := e.Filter(r.Context(), req)
	if err != nil {
		// kube-scheduler shows the Error in the pod's events.
		_ = json.NewEncoder(out).Encode(extenderv1.ExtenderFilterResult{Error: err.Error()})
		writeJSON(w, out)
		return
	}
	failed := extenderv1.FailedNodesMap{}
	if req.Full {
		writeFullNodes(w, req, verdicts, out)
		return
	}
	names := make([]string, 0, len(verdicts))
	for i, v := range verdicts {
		if v.pass {
			names = append(names, req.Names[i])
		} else {
			failed[req.Names[i]] = v.reason
		}
	}
	// Lack of capacity is unresolvable: evicting pods frees no disk space,
	// so kube-scheduler must not preempt for it.
	_ = json.NewEncoder(out).Encode(extenderv1.ExtenderFilterResult{
		NodeNames: &names, FailedNodes: extenderv1.FailedNodesMap{}, FailedAndUnresolvableNodes: failed,
	})
	writeJSON(w, out)
}

// writeFullNodes answers a filter request that carried full Node objects.
// The nodes that pass go back exactly as they came: re-encoding thousands
// of Node objects would cost more than deciding. Neighbours that both pass
// are one slice of the request body (with the comma between them), and
// the slices are written from the request's own bytes: with ample space
// the answer is the request's node list again, megabytes not worth a copy.
func writeFullNodes(w http.ResponseWriter, req *request, verdicts []verdict, out *bytes.Buffer) {
	failed := extenderv1.FailedNodesMap{}
	var runs [][]byte
	size := 0
	for i, v := range verdicts {
		n := req.Nodes[i]
		if !v.pass {
			failed[n.Name] = v.reason
			continue
		}
		if k := len(runs) - 1; k >= 0 && i > 0 && verdicts[i-1].pass && n.gap >= 0 {
			// The previous node ends this run, and the request's bytes
			// run on to this one: widen the run (its capacity is the body's).
			runs[k] = runs[k][:len(runs[k])+n.gap+len(n.raw)]
			size += n.gap + len(n.raw)
			continue
		}
		runs = append(runs, n.raw)
		size += len(n.raw)
	}
	const head = `{"Nodes":{"metadata":{},"items":[`
	out.WriteString(`]},"NodeNames":null,"FailedNodes":{},"FailedAndUnresolvableNodes":`)
	_ = json.NewEncoder(out).Encode(failed)
	out.Truncate(out.Len() - 1) // Encode's newline
	out.WriteString(`,"Error":""}`)
	size += len(head) + max(len(runs)-1, 0) + out.Len()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(size))
	_, _ = io.WriteString(w, head)
	for i, r := range runs {
		if i > 0 {
			_, _ = io.WriteString(w, ",")
		}
		_, _ = w.Write(r)
	}
	_, _ = w.Write(out.Bytes())
}

func (e *Extender) servePrioritize(w http.ResponseWriter, r *http.Request, req *request, out *bytes.Buffer) {
	list, err := e.Prioritize(r.Context(), req)
	if err != nil {
		// A prioritize error fails the scheduling attempt: say it with a
		// status code (there is no Error field in a HostPriorityList).
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	_ = json.NewEncoder(out).Encode(list)
	writeJSON(w, out)
}
