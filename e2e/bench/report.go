package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func formatFloat(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

// Hop is one stretch of a PVC's path, over all PVCs of a scenario.
type Hop struct {
	What string
	Took Summary
}

// Breakdown splits each PVC's time into the hops its Marks tell apart:
// who had the PVC between two moments.
func Breakdown(ms []Marks) []Hop {
	type hop struct {
		what     string
		from, to func(m Marks) time.Time
	}
	// unlessLV limits a hop to PVCs without a LogicalVolume (the floor,
	// floor.go).
	unlessLV := func(f func(m Marks) time.Time) func(m Marks) time.Time {
		return func(m Marks) time.Time {
			if !m.LVCreated.IsZero() {
				return time.Time{}
			}
			return f(m)
		}
	}
	handed := func(m Marks) time.Time { // the provisioner may start
		if m.Selected.After(m.Provisioner) {
			return m.Selected
		}
		return m.Provisioner
	}
	hops := []hop{
		{"kube-apiserver: create request answered", func(m Marks) time.Time { return m.Created }, func(m Marks) time.Time { return m.Answered }},
		{"fast binding or kube-controller-manager: PVC annotated for the provisioner", func(m Marks) time.Time { return m.Answered }, func(m Marks) time.Time { return m.Provisioner }},
		{"kube-scheduler: node selected (WaitForFirstConsumer)", func(m Marks) time.Time { return m.Created }, func(m Marks) time.Time { return m.Selected }},
		{"csi-provisioner -> CreateVolume -> controller: LogicalVolume made", handed, func(m Marks) time.Time { return m.LVCreated }},
		{"node plugin + daemon: volume made, status.volumeID set", func(m Marks) time.Time { return m.LVCreated }, func(m Marks) time.Time { return m.LVReady }},
		{"controller answers, csi-provisioner makes the PV", func(m Marks) time.Time { return m.LVReady }, func(m Marks) time.Time { return m.PVCreated }},
		{"csi-provisioner -> CreateVolume: PV made (a driver without LogicalVolumes)", unlessLV(handed), func(m Marks) time.Time { return m.PVCreated }},
		{"fast binding or kube-controller-manager: PVC Bound to the PV", func(m Marks) time.Time { return m.PVCreated }, func(m Marks) time.Time { return m.Bound }},
		{"deletion: fast binding or kube-controller-manager's PVC protection: PVC gone", func(m Marks) time.Time { return m.Deleted }, func(m Marks) time.Time { return m.PVCGone }},
		{"deletion: fast binding or kube-controller-manager: PV Released", func(m Marks) time.Time { return m.PVCGone }, func(m Marks) time.Time { return m.PVReleased }},
		{"deletion: csi-provisioner -> DeleteVolume -> controller deletes the LogicalVolume", func(m Marks) time.Time { return m.PVReleased }, func(m Marks) time.Time { return m.LVDeleting }},
		{"deletion: node plugin + daemon: volume removed, LogicalVolume gone", func(m Marks) time.Time { return m.LVDeleting }, func(m Marks) time.Time { return m.LVGone }},
		// DeleteVolume returns once the LogicalVolume is being deleted; the
		// PV and the volume on the node then go independently.
		{"deletion: csi-provisioner deletes the PV", func(m Marks) time.Time { return m.LVDeleting }, func(m Marks) time.Time { return m.PVGone }},
		{"deletion: csi-provisioner -> DeleteVolume: PV gone (a driver without LogicalVolumes)", unlessLV(func(m Marks) time.Time { return m.PVReleased }), func(m Marks) time.Time { return m.PVGone }},
		{"deletion: delete request -> PV gone (whole)", func(m Marks) time.Time { return m.Deleted }, func(m Marks) time.Time { return m.PVGone }},
	}
	var out []Hop
	for _, h := range hops {
		var ds []time.Duration
		for _, m := range ms {
			from, to := h.from(m), h.to(m)
			if from.IsZero() || to.IsZero() {
				continue
			}
			ds = append(ds, to.Sub(from))
		}
		if len(ds) > 0 {
			out = append(out, Hop{What: h.what, Took: Summarize(ds)})
		}
	}
	return out
}

// WriteResult prints one scenario: figures, breakdown, usage.
func WriteResult(w io.Writer, r Result) {
	fmt.Fprintf(w, "  %s  (load %s -> %s; %s)\n", r.Scenario, r.LoadBefore, r.LoadAfter, r.Quiet)
	if r.AllBound > 0 {
		fmt.Fprintf(w, "    all Bound          %s after the first create request\n", secs(r.AllBound))
	}
	where := ""
	if nodes := perNode(r.Marks); nodes != "" {
		where = "; per node " + nodes
	}
	fmt.Fprintf(w, "    create -> Bound    p50 %s  p90 %s  max %s  (%d PVCs%s)\n", ms(r.Bound.P50), ms(r.Bound.P90), ms(r.Bound.Max), r.Bound.N, where)
	if r.PodsRunning > 0 {
		fmt.Fprintf(w, "    all pods Running   %s after the first create request\n", secs(r.PodsRunning))
	}
	if r.Deletion > 0 {
		fmt.Fprintf(w, "    deletion           %s until every PV, LogicalVolume (if any) and volume on the nodes was gone\n", secs(r.Deletion))
	}
	fmt.Fprintf(w, "    delete -> PV gone  p50 %s  p90 %s  max %s\n", ms(r.Deleted.P50), ms(r.Deleted.P90), ms(r.Deleted.Max))
	if r.NodeCreate.N > 0 {
		fmt.Fprintf(w, "    node plugin per volume (daemon call + capacity revision, its log's durationMs): p50 %s  p90 %s  max %s\n",
			ms(r.NodeCreate.P50), ms(r.NodeCreate.P90), ms(r.NodeCreate.Max))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "    where the time goes (per PVC, from watch events)\tp50\tp90\tmax\t\n")
	for _, h := range Breakdown(r.Marks) {
		fmt.Fprintf(tw, "      %s\t%s\t%s\t%s\t\n", h.What, ms(h.Took.P50), ms(h.Took.P90), ms(h.Took.Max))
	}
	tw.Flush()
	if len(r.Usage) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "    component (all replicas and nodes)\tCPU s\tpeak RSS MiB\t\n")
		for _, u := range r.Usage {
			fmt.Fprintf(tw, "      %s\t%s\t%s\t\n", u.Component, formatFloat(u.CPUSeconds, 2), formatFloat(float64(u.PeakRSS)/(1<<20), 0))
		}
		tw.Flush()
	}
	if len(r.Requests) > 0 {
		fmt.Fprintf(w, "    kube-apiserver answered %s\n", r.Requests.Summary(8))
	}
}

// perNode counts the volumes of each node, in node order.
func perNode(ms []Marks) string {
	n := map[string]int{}
	for _, m := range ms {
		if m.Node != "" { // known from the LogicalVolume; the floor has none
			n[m.Node]++
		}
	}
	names := slices.Sorted(maps.Keys(n))
	var parts []string
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s %d", name, n[name]))
	}
	return strings.Join(parts, ", ")
}

// Row is one line of the summary table: a setting and a driver.
type Row struct {
	Setting, Driver            string
	Single, Immediate, Waiting Result
}

// WriteTable prints the summary table, with the targets.
func WriteTable(w io.Writer, rows []Row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "setting\tdriver\tsingle p50/p90\tImmediate all Bound\tp50/p90/max\tdeletion\tWFFC+pods all Bound\tp50/p90/max\tdeletion\tpods Running\t")
	burst := func(r Result) string {
		return strings.Join([]string{ms(r.Bound.P50), ms(r.Bound.P90), ms(r.Bound.Max)}, " / ")
	}
	for _, r := range rows {
		wffc := []string{"-", "-", "-", "-"} // a run that stopped before it
		if r.Waiting.Bound.N > 0 {
			wffc = []string{secs(r.Waiting.AllBound), burst(r.Waiting), secs(r.Waiting.Deletion), secs(r.Waiting.PodsRunning)}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s / %s\t%s\t%s\t%s\t%s\t\n", r.Setting, r.Driver,
			ms(r.Single.Bound.P50), ms(r.Single.Bound.P90),
			secs(r.Immediate.AllBound), burst(r.Immediate), secs(r.Immediate.Deletion), strings.Join(wffc, "\t"))
	}
	fmt.Fprintln(tw, "target (kcm raised)\t\t< 300 ms p50\t< 2 s\t\t< 1.5 s\t< 3 s\t\t< 1.5 s\t\t")
	fmt.Fprintln(tw, "upstream TopoLVM, both raised\t\t\t4.0 s\t\t3.2 s\t6.1 s\t\t\t\t")
	fmt.Fprintln(tw, "upstream TopoLVM, defaults\t\t\t28-34 s\t\t43 s\t\t\t\t\t")
	tw.Flush()
}
