package sidecar

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the sidecar's Prometheus metrics, on their own registry so
// that several sidecars can run in one process (tests) without clashing.
type Metrics struct {
	Registry        *prometheus.Registry
	Height          prometheus.Gauge
	Assignments     prometheus.Counter
	InFlight        prometheus.Gauge
	Builds          *prometheus.CounterVec // result: ok | failed
	BuildSeconds    prometheus.Histogram
	FetchSeconds    prometheus.Histogram
	ReportsSent     prometheus.Counter
	ReportErrors    prometheus.Counter
	Skipped         prometheus.Counter
	FollowErrors    prometheus.Counter
	WSReconnects    prometheus.Counter
	AnnounceErrors  prometheus.Counter
	DuplicateAvoids prometheus.Counter
}

// NewMetrics creates and registers the metrics (plus Go runtime and process
// collectors) on a fresh registry.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Height: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "buildchain", Subsystem: "sidecar",
			Name: "last_height", Help: "Last chain height whose events were fully handled."}),
		Assignments: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "buildchain", Subsystem: "sidecar",
			Name: "assignments_total", Help: "Assignments to this validator seen on chain."}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "buildchain", Subsystem: "sidecar",
			Name: "builds_in_flight", Help: "Assignments being fetched, built or reported now."}),
		Builds: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "buildchain", Subsystem: "sidecar",
			Name: "builds_total", Help: "Finished rebuilds by result."}, []string{"result"}),
		BuildSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "buildchain", Subsystem: "sidecar",
			Name: "build_seconds", Help: "Sandbox build time of rebuilds.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 16)}),
		FetchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "buildchain", Subsystem: "sidecar",
			Name: "fetch_seconds", Help: "Time to fetch a derivation's closure over p2p.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 16)}),
		ReportsSent: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "buildchain", Subsystem: "sidecar",
			Name: "reports_sent_total", Help: "MsgReportBuild transactions accepted by the chain."}),
		ReportErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "buildchain", Subsystem: "sidecar",
			Name: "report_errors_total", Help: "Failed report broadcasts (retried)."}),
		Skipped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "buildchain", Subsystem: "sidecar",
			Name: "skipped_total", Help: "Assignments dropped because the round was no longer ours."}),
		FollowErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "buildchain", Subsystem: "sidecar",
			Name: "follow_errors_total", Help: "Transient errors while following the chain (retried)."}),
		WSReconnects: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "buildchain", Subsystem: "sidecar",
			Name: "websocket_reconnects_total", Help: "Websocket clients recreated after silence or failure."}),
		AnnounceErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "buildchain", Subsystem: "sidecar",
			Name: "announce_errors_total", Help: "Failed DHT provides or gossip announcements of outputs."}),
		DuplicateAvoids: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "buildchain", Subsystem: "sidecar",
			Name: "duplicate_reports_avoided_total", Help: "Reports not sent because the chain already had ours (after a restart)."}),
	}
	r.MustRegister(m.Height, m.Assignments, m.InFlight, m.Builds, m.BuildSeconds, m.FetchSeconds, m.ReportsSent,
		m.ReportErrors, m.Skipped, m.FollowErrors, m.WSReconnects, m.AnnounceErrors, m.DuplicateAvoids,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
