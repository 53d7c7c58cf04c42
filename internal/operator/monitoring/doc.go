// Package monitoring is the operator's side of monitoring: the health
// gauges the reconciler feeds with each status it writes (Metrics), and
// the alerting rules (PrometheusRule) for the suite's capacity and health,
// with the thresholds of the TopolvmCluster spec. deploy/monitoring holds
// the same rules at the default thresholds (generated from this package,
// checked by its tests) and a Grafana dashboard over these metrics and the
// node plugins' capacity gauges.
package monitoring
