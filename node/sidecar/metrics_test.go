package sidecar

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMetricsRegistered: every metric is on the registry under buildchain_sidecar_, and every
// labelled series exists (at 0) before the first event.
func TestMetricsRegistered(t *testing.T) {
	m := NewMetrics()
	m.Height.Set(7)
	families, err := m.Registry.Gather()
	require.NoError(t, err)
	series := map[string]int{}
	for _, f := range families {
		series[f.GetName()] = len(f.GetMetric())
		if f.GetName() == "buildchain_sidecar_last_height" {
			require.Equal(t, 7.0, f.GetMetric()[0].GetGauge().GetValue())
		}
	}
	for name, n := range map[string]int{
		"last_height": 1, "assignments_total": 1, "builds_in_flight": 1, "builds_total": 2,
		"build_seconds": 1, "fetch_seconds": 1, "reports_sent_total": 1, "report_errors_total": 1,
		"skipped_total": 1, "follow_errors_total": 1, "websocket_reconnects_total": 1,
		"announce_errors_total": 1, "duplicate_reports_avoided_total": 1, "fetch_bytes_total": 1,
		"rounds_total": 3, "predictions_total": 3,
	} {
		require.Equal(t, n, series["buildchain_sidecar_"+name], name)
	}
	require.Contains(t, series, "go_goroutines")
	require.Contains(t, series, "process_cpu_seconds_total")
}
