package monitoring

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
)

// Each alert is evaluated the way Prometheus does it, over synthetic
// series (promtool's rule tests, in Go): the rule runs every minute from
// the series' start, and the alerts firing at the end are compared with
// the case's. Every alert has a case where it fires and one where it
// stays silent; TestEveryAlertIsEvaluated keeps it so.
type alertCase struct {
	name string
	// series in promqltest's load notation, one sample a minute from 0.
	series string
	// at is when the firing alerts are read.
	at time.Duration
	// fires maps each expected firing alert to the value of its key label
	// (node, or component for the operator's workloads); a case lists
	// every alert it expects, so anything else firing fails it.
	fires map[string][]string
}

// evalThresholds are other than the defaults, so the cases show the rules
// follow the thresholds they are given.
var evalThresholds = Thresholds{WarningPercent: 70, CriticalPercent: 90}

var alertCases = []alertCase{
	{
		name: "thick class 80% used for 10 minutes: warning only",
		series: `topolvm_volumegroup_size_bytes{node="n1",device_class="ssd"} 100x15
topolvm_volumegroup_available_bytes{node="n1",device_class="ssd"} 20x15
topolvm_volumegroup_size_bytes{node="n2",device_class="ssd"} 100x15
topolvm_volumegroup_available_bytes{node="n2",device_class="ssd"} 50x15`,
		at:    10 * time.Minute,
		fires: map[string][]string{"TopoLVMVolumeGroupFullWarning": {"n1"}},
	},
	{
		name: "thick class 95% used: warning and critical",
		series: `topolvm_volumegroup_size_bytes{node="n1",device_class="ssd"} 100x15
topolvm_volumegroup_available_bytes{node="n1",device_class="ssd"} 5x15`,
		at:    10 * time.Minute,
		fires: map[string][]string{"TopoLVMVolumeGroupFullWarning": {"n1"}, "TopoLVMVolumeGroupFullCritical": {"n1"}},
	},
	{
		name: "a spike shorter than the rules' 5 minutes fires nothing",
		series: `topolvm_volumegroup_size_bytes{node="n1",device_class="ssd"} 100x15
topolvm_volumegroup_available_bytes{node="n1",device_class="ssd"} 50 50 50 1 1 1 50x10`,
		at: 10 * time.Minute,
	},
	{
		name: "thin pool data and metadata",
		series: `topolvm_thinpool_data_percent{node="n1",device_class="thin"} 95x15
topolvm_thinpool_metadata_percent{node="n1",device_class="thin"} 75x15
topolvm_thinpool_data_percent{node="n2",device_class="thin"} 10x15
topolvm_thinpool_metadata_percent{node="n2",device_class="thin"} 10x15`,
		at: 10 * time.Minute,
		fires: map[string][]string{"TopoLVMThinPoolDataFullWarning": {"n1"}, "TopoLVMThinPoolDataFullCritical": {"n1"},
			"TopoLVMThinPoolMetadataFullWarning": {"n1"}},
	},
	{
		name: "thin pool metadata nearly full while its data is not",
		series: `topolvm_thinpool_data_percent{node="n1",device_class="thin"} 30x15
topolvm_thinpool_metadata_percent{node="n1",device_class="thin"} 92x15`,
		at:    10 * time.Minute,
		fires: map[string][]string{"TopoLVMThinPoolMetadataFullWarning": {"n1"}, "TopoLVMThinPoolMetadataFullCritical": {"n1"}},
	},
	{
		name: "a thin pool emptied again stops firing",
		series: `topolvm_thinpool_data_percent{node="n1",device_class="thin"} 95x10 20x10
topolvm_thinpool_metadata_percent{node="n1",device_class="thin"} 95x10 20x10`,
		at: 15 * time.Minute,
	},
	{
		name: "btrfs pool",
		series: `topols_pool_size_bytes{node="n1",pool="default"} 1000x15
topols_pool_available_bytes{node="n1",pool="default"} 50x15
topols_pool_size_bytes{node="n2",pool="default"} 1000x15
topols_pool_available_bytes{node="n2",pool="default"} 900x15`,
		at:    10 * time.Minute,
		fires: map[string][]string{"TopoLSPoolFullWarning": {"n1"}, "TopoLSPoolFullCritical": {"n1"}},
	},
	{
		name: "orphan volumes held past the rule's 15 minutes",
		series: `toposuite_orphan_volumes{node="n1",driver="topolvm.io",device_class="ssd"} 2x30
toposuite_orphan_volumes{node="n2",driver="topolvm.io",device_class="ssd"} 0x30
toposuite_orphan_volumes{node="n3",driver="topols.io",device_class="default"} 0x10 1x20`,
		at:    25 * time.Minute,
		fires: map[string][]string{"TopoSuiteOrphanVolumes": {"n1"}},
	},
	{
		name: "a degraded cluster, a node plugin and a controller down",
		series: `topolvm_operator_cluster_degraded{cluster="c",reason="NodesNotReady"} 1x15
topolvm_operator_component_desired_pods{cluster="c",kind="DaemonSet",component="topolvm-node"} 3x15
topolvm_operator_component_available_pods{cluster="c",kind="DaemonSet",component="topolvm-node"} 2x15
topolvm_operator_component_desired_pods{cluster="c",kind="DaemonSet",component="topols-node"} 3x15
topolvm_operator_component_available_pods{cluster="c",kind="DaemonSet",component="topols-node"} 3x15
topolvm_operator_component_desired_pods{cluster="c",kind="Deployment",component="topolvm-controller"} 1x15
topolvm_operator_component_available_pods{cluster="c",kind="Deployment",component="topolvm-controller"} 0x15
topolvm_operator_component_desired_pods{cluster="c",kind="Deployment",component="topols-controller"} 2x15
topolvm_operator_component_available_pods{cluster="c",kind="Deployment",component="topols-controller"} 1x15`,
		at: 10 * time.Minute,
		fires: map[string][]string{"TopoSuiteClusterDegraded": {""}, "TopoSuiteNodePluginDown": {"topolvm-node"},
			"TopoSuiteControllerDown": {"topolvm-controller"}},
	},
	{
		name: "a healthy cluster",
		series: `topolvm_operator_cluster_degraded{cluster="c",reason=""} 0x15
topolvm_operator_component_desired_pods{cluster="c",kind="DaemonSet",component="topolvm-node"} 3x15
topolvm_operator_component_available_pods{cluster="c",kind="DaemonSet",component="topolvm-node"} 3x15
topolvm_operator_component_desired_pods{cluster="c",kind="Deployment",component="topolvm-controller"} 0x15
topolvm_operator_component_available_pods{cluster="c",kind="Deployment",component="topolvm-controller"} 0x15`,
		at: 10 * time.Minute,
	},
	{
		// The agent stamps the Unix time of its report: n1 reports every
		// minute, n2 stopped at 0 and is 1,800 s behind at 30 minutes.
		name: "a node agent silent for 30 minutes",
		series: `topolvm_operator_node_report_timestamp_seconds{cluster="c",node="n1"} 0+60x40
topolvm_operator_node_report_timestamp_seconds{cluster="c",node="n2"} 0x40`,
		at:    30 * time.Minute,
		fires: map[string][]string{"TopoSuiteNodeReportStale": {"n2"}},
	},
}

func TestAlertsFireWhenTheyShould(t *testing.T) {
	for _, tc := range alertCases {
		t.Run(tc.name, func(t *testing.T) {
			got := evalAlerts(t, tc.series, tc.at)
			want := map[string][]string{}
			for a, keys := range tc.fires {
				want[a] = slices.Sorted(slices.Values(keys))
			}
			for a := range got {
				slices.Sort(got[a])
			}
			if !mapsEqual(got, want) {
				t.Errorf("firing at %s:\n got %v\nwant %v", tc.at, got, want)
			}
		})
	}
}

// Every alert of Groups fires in some case and every case's series leave
// some alert silent that reads them: a new rule needs cases.
func TestEveryAlertIsEvaluated(t *testing.T) {
	fired := map[string]bool{}
	for _, tc := range alertCases {
		for a := range tc.fires {
			fired[a] = true
		}
	}
	for _, g := range Groups(evalThresholds) {
		for _, r := range g.Rules {
			if !fired[r.Alert] {
				t.Errorf("alert %s fires in no case of alertCases", r.Alert)
			}
			// Silent: a case feeds it series of a node (or component)
			// for which it must not fire.
			silent := false
			for _, tc := range alertCases {
				for _, key := range seriesKeys(t, r.Expr, tc.series) {
					if !slices.Contains(tc.fires[r.Alert], key) {
						silent = true
					}
				}
			}
			if !silent {
				t.Errorf("alert %s has no case whose series it reads and stays silent", r.Alert)
			}
		}
	}
}

// evalAlerts loads series and runs every rule of Groups(evalThresholds)
// once a minute up to at, as a rule group would; it returns the firing
// alerts with the value of each one's key label.
func evalAlerts(t *testing.T, series string, at time.Duration) map[string][]string {
	t.Helper()
	store := promqltest.LoadedStorage(t, "load 1m\n"+indent(series))
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	query := rules.EngineQueryFunc(engine, store)
	var rs []*rules.AlertingRule
	for _, g := range Groups(evalThresholds) {
		for _, r := range g.Rules {
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr)
			if err != nil {
				t.Fatalf("%s: %v", r.Alert, err)
			}
			hold, err := model.ParseDuration(r.For)
			if err != nil {
				t.Fatalf("%s: for %q: %v", r.Alert, r.For, err)
			}
			rs = append(rs, rules.NewAlertingRule(r.Alert, expr, time.Duration(hold), 0,
				labels.FromMap(r.Labels), labels.FromMap(r.Annotations), labels.EmptyLabels(), "", true, nil))
		}
	}
	ctx := context.Background()
	for ts := time.Duration(0); ts <= at; ts += time.Minute {
		for _, r := range rs {
			if _, err := r.Eval(ctx, 0, time.Unix(0, 0).Add(ts).UTC(), query, nil, 0); err != nil {
				t.Fatalf("%s at %s: %v", r.Name(), ts, err)
			}
		}
	}
	firing := map[string][]string{}
	for _, r := range rs {
		for _, a := range r.ActiveAlerts() {
			if a.State != rules.StateFiring {
				continue
			}
			key := a.Labels.Get("node")
			if c := a.Labels.Get("component"); c != "" {
				key = c
			}
			firing[r.Name()] = append(firing[r.Name()], key)
			if a.Annotations.Get("description") == "" || strings.Contains(a.Annotations.Get("description"), "{{") {
				t.Errorf("%s: description not expanded: %q", r.Name(), a.Annotations.Get("description"))
			}
		}
	}
	return firing
}

// seriesKeys returns the key label (component, else node) of each line of
// series that expr reads.
func seriesKeys(t *testing.T, expr, series string) []string {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		for _, line := range strings.Split(series, "\n") {
			if !strings.HasPrefix(line, vs.Name+"{") {
				continue
			}
			lbls, err := parser.NewParser(parser.Options{}).ParseMetric(line[:strings.Index(line, "}")+1])
			if err != nil {
				t.Fatal(err)
			}
			key := lbls.Get("node")
			if c := lbls.Get("component"); c != "" {
				key = c
			}
			keys = append(keys, key)
		}
		return nil
	})
	return keys
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }

func mapsEqual(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
