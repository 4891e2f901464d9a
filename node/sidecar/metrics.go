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
	// result is committed and revealed on chain), closed (the chain ended the round first: deadline passed or
	// the claim reached a verdict) or failed (fetch or build failed).
	Rounds *prometheus.CounterVec
	// Predictions counts market predictions by step: committed, revealed or failed.
	Predictions *prometheus.CounterVec
}

// NewMetrics creates and registers the metrics (plus Go runtime and process
// collectors) on a fresh registry.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	f := factory{r}
	m := &Metrics{
		Registry:       r,
		Height:         f.gauge("last_height", "Last chain height whose events were fully handled."),
		Assignments:    f.counter("assignments_total", "Assignments to this validator seen on chain."),
		InFlight:       f.gauge("builds_in_flight", "Assignments being fetched, built or committed now."),
		Builds:         f.counterVec("builds_total", "Finished rebuilds by result.", "result", "ok", "failed"),
		BuildSeconds:   f.histogram("build_seconds", "Sandbox build time of rebuilds.", prometheus.ExponentialBuckets(0.05, 2, 16)),
		FetchSeconds:   f.histogram("fetch_seconds", "Time to fetch a derivation's closure over p2p.", prometheus.ExponentialBuckets(0.01, 2, 16)),
		ReportsSent:    f.counter("reports_sent_total", "Results revealed on chain (MsgRevealBuild accepted after our MsgCommitBuild)."),
		ReportErrors:   f.counter("report_errors_total", "Failed commit or reveal broadcasts (retried)."),
		Skipped:        f.counter("skipped_total", "Assignments dropped because the round was no longer ours."),
		FollowErrors:   f.counter("follow_errors_total", "Transient errors while following the chain (retried)."),
		WSReconnects:   f.counter("websocket_reconnects_total", "Websocket clients recreated after silence or failure."),
		AnnounceErrors: f.counter("announce_errors_total", "Failed DHT provides or gossip announcements of outputs."),
		DuplicateAvoids: f.counter("duplicate_reports_avoided_total",
			"Commits and reveals not sent because the chain already had ours (a restart, a lost response)."),
		FetchBytes: f.counter("fetch_bytes_total", "Bytes of derivation closures fetched from peers."),
		Rounds: f.counterVec("rounds_total", "Claim rounds assigned to this validator, by what became of them.",
			"result", "reported", "closed", "failed"),
		Predictions: f.counterVec("predictions_total", "Market predictions of this validator, by step.",
			"step", "committed", "revealed", "failed"),
	}
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// factory makes the sidecar's metrics (namespace buildchain, subsystem
// sidecar) and registers each on its registry.
type factory struct{ r *prometheus.Registry }

func (f factory) opts(name, help string) prometheus.Opts {
	return prometheus.Opts{Namespace: "buildchain", Subsystem: "sidecar", Name: name, Help: help}
}

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts(f.opts(name, help)))
	f.r.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts(f.opts(name, help)))
	f.r.MustRegister(g)
	return g
}

// counterVec makes a counter with one label whose every value in values
// exists from the start (at 0), so dashboards and alerts see it before the
// first event.
func (f factory) counterVec(name, help, label string, values ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts(f.opts(name, help)), []string{label})
	for _, v := range values {
		c.WithLabelValues(v)
	}
	f.r.MustRegister(c)
	return c
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	o := f.opts(name, help)
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: o.Namespace, Subsystem: o.Subsystem,
		Name: o.Name, Help: o.Help, Buckets: buckets})
	f.r.MustRegister(h)
	return h
}
