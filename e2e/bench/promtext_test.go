package bench

import "testing"

func TestSamples(t *testing.T) {
	text := `# HELP toposuite_controller_fast_binding_steps_total x
# TYPE toposuite_controller_fast_binding_steps_total counter
toposuite_controller_fast_binding_steps_total{driver="topols.io",step="bind"} 90
toposuite_controller_fast_binding_steps_total{driver="topols.io",step="release"} 1.5e+02
toposuite_controller_fast_binding_steps_total_other{step="bind"} 7
rest_client_requests_total{code="200",method="PUT"} 3
topolvm_scheduler_inflight_wait_seconds_sum 0.25
`
	got := samples(text, "toposuite_controller_fast_binding_steps_total")
	if len(got) != 2 || got[0].labels["step"] != "bind" || got[0].value != 90 || got[1].labels["driver"] != "topols.io" || got[1].value != 150 {
		t.Errorf("samples = %+v", got)
	}
	if got := samples(text, "topolvm_scheduler_inflight_wait_seconds_sum"); len(got) != 1 || got[0].value != 0.25 || len(got[0].labels) != 0 {
		t.Errorf("unlabelled samples = %+v", got)
	}
}
