package scheduler

import (
	"cmp"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	kjson "sigs.k8s.io/json"
)

// candidate is what the extender knows of one node kube-scheduler asks about.
type candidate struct {
	Name string
	// Annotations holds only the keys the extender reads (capacity and
	// revision annotations of the configured drivers).
	Annotations map[string]string
	// raw is the node's JSON exactly as kube-scheduler sent it, to send back
	// for the nodes that pass the filter (full-object mode only).
	raw []byte
	// gap is the number of bytes between the previous node's raw bytes and
	// this node's (a comma and white space), -1 for the first node: the
	// filter sends neighbours that both pass as one slice of the request.
	gap int
}

// request is an extenderv1.ExtenderArgs as far as the extender reads it.
type request struct {
	Pod *corev1.Pod
	// Nodes is set when kube-scheduler sends full Node objects
	// (nodeCacheCapable: false); Names when it sends names only.
	Nodes []candidate
	Names []string
	// Full says which of the two the request carried.
	Full bool
}

// What one request may list. The extender's memory for a request grows
// with its nodes and kept annotations (a few hundred bytes each for names,
// candidates, figures and verdicts), not only with its bytes: 64 MiB of
// bare node names would otherwise cost gigabytes. kube-scheduler lists at
// most the cluster's nodes (Kubernetes supports 5,000; with the default
// percentageOfNodesToScore it sends at most about 780), and the node
// plugins write one capacity annotation per device class and one revision
// per driver.
const (
	maxRequestNodes       = 20_000
	maxRequestAnnotations = 100_000
)

// errTooMany is a request listing more than the extender reads: HTTP 413.
type errTooMany struct {
	what  string
	limit int
}

func (e errTooMany) Error() string {
	return fmt.Sprintf("the request lists more than %d %s; the extender reads at most that many per request", e.limit, e.what)
}

// decodeRequest reads an ExtenderArgs body. Keys are case-sensitive, as
// kube-scheduler writes them (the Go field names). keep selects the node
// annotations to retain.
func decodeRequest(body []byte, keep func(key string) bool) (*request, error) {
	s := &scanner{b: body}
	r := &request{}
	var podRaw []byte
	err := s.object(func(key string) error {
		switch key {
		case "Pod":
			s.ws()
			start := s.pos
			if err := s.skip(0); err != nil {
				return fmt.Errorf("in Pod: %w", err)
			}
			podRaw = s.b[start:s.pos]
		case "Nodes":
			if isNull, err := s.null(); err != nil || isNull {
				if isNull {
					r.Full, r.Nodes = false, nil
				}
				return err
			}
			r.Full, r.Nodes = true, []candidate{}
			if err := s.nodeList(&r.Nodes, keep); err != nil {
				return fmt.Errorf("in Nodes: %w", err)
			}
		case "NodeNames":
			if isNull, err := s.null(); err != nil || isNull {
				if isNull {
					r.Names = nil
				}
				return err
			}
			r.Names = []string{}
			err := s.array(func() error {
				if len(r.Names) == maxRequestNodes {
					return errTooMany{"node names", maxRequestNodes}
				}
				n, err := s.str()
				r.Names = append(r.Names, n)
				return err
			})
			if err != nil {
				return fmt.Errorf("in NodeNames: %w", err)
			}
		default:
			return s.skip(0)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.end(); err != nil {
		return nil, err
	}
	if podRaw == nil || string(podRaw) == "null" {
		return nil, errors.New("the request has no Pod")
	}
	var pod corev1.Pod
	if err := kjson.UnmarshalCaseSensitivePreserveInts(podRaw, &pod); err != nil {
		return nil, fmt.Errorf("decode Pod: %w", err)
	}
	r.Pod = &pod
	return r, nil
}

// nodeList reads a NodeList's items.
func (s *scanner) nodeList(out *[]candidate, keep func(string) bool) error {
	return s.object(func(key string) error {
		if key != "items" {
			return s.skip(0)
		}
		if isNull, err := s.null(); err != nil || isNull {
			if isNull {
				*out = (*out)[:0]
			}
			return err
		}
		*out = (*out)[:0]
		prevEnd := -1
		kept := 0
		return s.array(func() error {
			if len(*out) == maxRequestNodes {
				return errTooMany{"nodes", maxRequestNodes}
			}
			s.ws()
			start := s.pos
			n := candidate{gap: -1}
			if prevEnd >= 0 {
				n.gap = start - prevEnd
			}
			if err := s.node(&n, keep, &kept); err != nil {
				return err
			}
			n.raw = s.b[start:s.pos]
			prevEnd = s.pos
			*out = append(*out, n)
			return nil
		})
	})
}

// node reads one Node object's name and selected annotations; kept counts
// the annotations retained in the whole request.
func (s *scanner) node(n *candidate, keep func(string) bool, kept *int) error {
	return s.object(func(key string) error {
		if key != "metadata" {
			return s.skip(1)
		}
		if isNull, err := s.null(); err != nil || isNull {
			return err
		}
		return s.object(func(key string) error {
			switch key {
			case "name":
				if isNull, err := s.null(); err != nil || isNull {
					return err
				}
				name, err := s.str()
				n.Name = name
				return err
			case "annotations":
				if isNull, err := s.null(); err != nil || isNull {
					if isNull {
						n.Annotations = nil
					}
					return err
				}
				return s.object(func(k string) error {
					if !keep(k) {
						// Still checked: it goes back to kube-scheduler.
						if c, err := s.peek(); err != nil || c != '"' && c != 'n' {
							return cmp.Or(err, s.errorf("annotation %q: want a string or null", k))
						}
						return s.skip(3)
					}
					if *kept == maxRequestAnnotations {
						return errTooMany{"node annotations of the configured drivers", maxRequestAnnotations}
					}
					*kept++
					v := "" // a null value stores "", as encoding/json does
					isNull, err := s.null()
					if err == nil && !isNull {
						v, err = s.str()
					}
					if err == nil {
						if n.Annotations == nil {
							n.Annotations = map[string]string{}
						}
						n.Annotations[k] = v
					}
					return err
				})
			}
			return s.skip(2)
		})
	})
}
