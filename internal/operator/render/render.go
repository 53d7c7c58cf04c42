// Package render renders the suite's embedded Helm charts (deploy/charts)
// into Kubernetes objects with Helm's own engine, for the releases the
// values package derives from a TopolvmCluster.
package render

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/toposuite/toposuite/internal/operator/values"
)

// Renderer renders releases of the charts in FS.
type Renderer struct {
	charts map[string]*chart.Chart
	// lookup, when set, lets templates read the cluster (Helm's lookup):
	// the webhook certificate is then made once and kept, as a helm
	// upgrade keeps it. Without it every render makes a new one.
	lookup *rest.Config
	caps   *chartutil.Capabilities
}

// New loads every chart directory of fsys. cfg may be nil (no lookup).
func New(fsys fs.FS, cfg *rest.Config, caps *chartutil.Capabilities) (*Renderer, error) {
	dirs, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	r := &Renderer{charts: map[string]*chart.Chart{}, lookup: cfg, caps: caps}
	if r.caps == nil {
		r.caps = chartutil.DefaultCapabilities.Copy()
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		c, err := loadChart(fsys, d.Name())
		if err != nil {
			return nil, fmt.Errorf("load chart %s: %w", d.Name(), err)
		}
		r.charts[d.Name()] = c
	}
	return r, nil
}

func loadChart(fsys fs.FS, dir string) (*chart.Chart, error) {
	var files []*loader.BufferedFile
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: strings.TrimPrefix(p, dir+"/"), Data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return loader.LoadFiles(files)
}

// Release renders one release into objects, every namespaced one in
// namespace. The values are checked against the chart's values schema.
func (r *Renderer) Release(rel values.Release, namespace string) ([]*unstructured.Unstructured, error) {
	c, ok := r.charts[rel.Chart]
	if !ok {
		return nil, fmt.Errorf("no chart %q", rel.Chart)
	}
	vals, err := chartutil.ToRenderValues(c, rel.Values, chartutil.ReleaseOptions{
		Name: rel.Name, Namespace: namespace, Revision: 1, IsUpgrade: true,
	}, r.caps)
	if err != nil {
		return nil, fmt.Errorf("release %s: %w", rel.Name, err)
	}
	var e engine.Engine
	if r.lookup != nil {
		e = engine.New(r.lookup)
	}
	e.Strict = false
	files, err := e.Render(c, vals)
	if err != nil {
		return nil, fmt.Errorf("release %s: %w", rel.Name, err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		if path.Ext(n) == ".yaml" || path.Ext(n) == ".yml" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []*unstructured.Unstructured
	for _, n := range names {
		objs, err := decode(files[n])
		if err != nil {
			return nil, fmt.Errorf("release %s, %s: %w", rel.Name, n, err)
		}
		for _, o := range objs {
			if o.GetNamespace() == "" && namespaced(o) {
				o.SetNamespace(namespace)
			}
		}
		out = append(out, objs...)
	}
	return out, nil
}

// CRDs returns the custom resource definitions of a chart's crds/.
func (r *Renderer) CRDs(chartName string) ([]*unstructured.Unstructured, error) {
	c, ok := r.charts[chartName]
	if !ok {
		return nil, fmt.Errorf("no chart %q", chartName)
	}
	var out []*unstructured.Unstructured
	for _, f := range c.CRDObjects() {
		objs, err := decode(string(f.File.Data))
		if err != nil {
			return nil, fmt.Errorf("chart %s, %s: %w", chartName, f.Filename, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

// decode splits a rendered file into its objects, skipping empty documents.
func decode(manifest string) ([]*unstructured.Unstructured, error) {
	docs := releaseutil.SplitManifests(manifest)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	// SplitManifests names documents manifest-0, manifest-1, ...: keep
	// their order.
	sort.Slice(keys, func(i, j int) bool { return manifestIndex(keys[i]) < manifestIndex(keys[j]) })
	var out []*unstructured.Unstructured
	for _, k := range keys {
		obj := map[string]any{}
		if err := yaml.Unmarshal([]byte(docs[k]), &obj); err != nil {
			return nil, err
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("an object without kind or name: %.80q", docs[k])
		}
		out = append(out, u)
	}
	return out, nil
}

func manifestIndex(key string) int {
	var n int
	_, _ = fmt.Sscanf(key, "manifest-%d", &n)
	return n
}
