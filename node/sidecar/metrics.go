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
	// FetchBytes counts closure bytes that came from peers (blocks already local are free).
	FetchBytes prometheus.Counter
	// Rounds counts the claim rounds assigned to us by what became of them: reported (our
	// MsgReportBuild is on chain), closed (the chain ended the round first: deadline passed or
	// the claim reached a verdict) or failed (fetch or build failed).
	Rounds *prometheus.CounterVec
	// Predictions counts market predictions by step: committed, revealed or failed.
	Predictions *prometheus.CounterVec
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
		FetchBytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "buildchain", Subsystem: "sidecar",
			Name: "fetch_bytes_total", Help: "Bytes of derivation closures fetched from peers."}),
		Rounds: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "buildchain", Subsystem: "sidecar",
			Name: "rounds_total", Help: "Claim rounds assigned to this validator, by what became of them."}, []string{"result"}),
		Predictions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "buildchain", Subsystem: "sidecar",
			Name: "predictions_total", Help: "Market predictions of this validator, by step."}, []string{"step"}),
	}
	// Every labelled series exists from the start (at 0), so dashboards and alerts see it
	// before the first event.
	for _, l := range []string{"ok", "failed"} {
		m.Builds.WithLabelValues(l)
	}
	for _, l := range []string{"reported", "closed", "failed"} {
		m.Rounds.WithLabelValues(l)
	}
	for _, l := range []string{"committed", "revealed", "failed"} {
		m.Predictions.WithLabelValues(l)
	}
	r.MustRegister(m.FetchBytes, m.Rounds, m.Predictions)
	r.MustRegister(m.Height, m.Assignments, m.InFlight, m.Builds, m.BuildSeconds, m.FetchSeconds, m.ReportsSent,
		m.ReportErrors, m.Skipped, m.FollowErrors, m.WSReconnects, m.AnnounceErrors, m.DuplicateAvoids,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
