package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/client-go/kubernetes"
)

// APIRequests counts the requests kube-apiserver answered, by
// "VERB resource[/subresource] code", read from its /metrics.
type APIRequests map[string]float64

// ReadAPIRequests reads kube-apiserver's request counter.
func ReadAPIRequests(ctx context.Context, cs kubernetes.Interface) (APIRequests, error) {
	b, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver /metrics: %w", err)
	}
	return parseAPIRequests(string(b)), nil
}

func parseAPIRequests(text string) APIRequests {
	out := APIRequests{}
	for _, s := range samples(text, "apiserver_request_total") {
		res := s.labels["resource"]
		if sub := s.labels["subresource"]; sub != "" {
			res += "/" + sub
		}
		out[s.labels["verb"]+" "+res+" "+s.labels["code"]] += s.value
	}
	return out
}

// Since is what was answered after before was read.
func (a APIRequests) Since(before APIRequests) APIRequests {
	out := APIRequests{}
	for k, v := range a {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// Summary: all requests, the writes among them, the writes refused with a
// conflict (409: written from an outdated copy), and the most frequent
// kinds.
func (a APIRequests) Summary(top int) string {
	var all, writes, conflicts float64
	type kind struct {
		name string
		n    float64
	}
	var kinds []kind
	for k, v := range a {
		all += v
		f := strings.Fields(k)
		if len(f) == 3 && isWrite(f[0]) {
			writes += v
			if f[2] == "409" {
				conflicts += v
			}
		}
		kinds = append(kinds, kind{k, v})
	}
	sort.Slice(kinds, func(i, j int) bool {
		if kinds[i].n != kinds[j].n {
			return kinds[i].n > kinds[j].n
		}
		return kinds[i].name < kinds[j].name
	})
	var parts []string
	for _, k := range kinds[:min(top, len(kinds))] {
		parts = append(parts, fmt.Sprintf("%s %d", k.name, int(k.n)))
	}
	return fmt.Sprintf("%d requests, %d writes, %d conflicts; most: %s", int(all), int(writes), int(conflicts), strings.Join(parts, ", "))
}

func isWrite(verb string) bool {
	switch verb {
	case "POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION":
		return true
	}
	return false
}
