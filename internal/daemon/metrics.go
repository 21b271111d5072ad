package daemon

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"ttpgate/sync/events"
)

// metrics are the lane's Prometheus metrics, served on metrics_listen. Counters follow the events
// the lane records; gauges are read from the status report at each scrape.
type metrics struct {
	reg       *prometheus.Registry
	passages  *prometheus.CounterVec
	refusals  *prometheus.CounterVec
	alarms    *prometheus.CounterVec
	decisions prometheus.Histogram
}

func newMetrics(d *Daemon) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.passages = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ttpgate_passages_total",
		Help: "Passages by outcome: granted (door pulsed), completed (beam crossed), abandoned."}, []string{"outcome"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ttpgate_refusals_total",
		Help: "Travellers referred to the officer's booth, by reason code."}, []string{"reason"})
	m.alarms = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ttpgate_alarms_total",
		Help: "Alarms raised, by reason code."}, []string{"reason"})
	m.decisions = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ttpgate_decision_seconds",
		Help:    "Software time of a granted passage: card read to fingerprint request, plus sample to exit-door pulse acknowledged.",
		Buckets: []float64{.002, .005, .01, .02, .05, .1, .2, .5, 1}})
	m.reg.MustRegister(m.passages, m.refusals, m.alarms, m.decisions, statusCollector{d})
	return m
}

// observe counts an event the lane recorded.
func (m *metrics) observe(e events.Event) {
	switch e.Type {
	case "passage_granted":
		m.passages.WithLabelValues("granted").Inc()
	case "passage_completed":
		m.passages.WithLabelValues("completed").Inc()
	case "passage_abandoned":
		m.passages.WithLabelValues("abandoned").Inc()
	case "refused":
		m.refusals.WithLabelValues(e.Reason).Inc()
	case "alarm":
		m.alarms.WithLabelValues(e.Reason).Inc()
	}
}

var (
	descDeviceOnline = prometheus.NewDesc("ttpgate_device_online", "1 if the device answers its polls (over Secure Channel when required).", []string{"device"}, nil)
	descDeviceErrors = prometheus.NewDesc("ttpgate_device_errors_total", "Device link errors by kind: timeout, crc, nak, mac.", []string{"device", "kind"}, nil)
	descOutboxDepth  = prometheus.NewDesc("ttpgate_outbox_depth", "Events not yet acknowledged by HQ.", nil, nil)
	descRegistryAge  = prometheus.NewDesc("ttpgate_registry_age_seconds", "Age of the registry copy: now minus HQ's last applied clock (-1 before the first).", nil, nil)
	descRegistryRev  = prometheus.NewDesc("ttpgate_registry_revision", "Registry revision applied.", nil, nil)
	descLaneOpen     = prometheus.NewDesc("ttpgate_lane_open", "1 if the lane takes travellers.", nil, nil)
	descHQLink       = prometheus.NewDesc("ttpgate_hq_link_up", "1 if connected to NATS.", nil, nil)
	descActiveAlarms = prometheus.NewDesc("ttpgate_alarm_active", "Standing alarms raised and not cleared.", []string{"reason"}, nil)
)

// statusCollector reads the gauges from one status report per scrape.
type statusCollector struct{ d *Daemon }

func (c statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDeviceOnline, descDeviceErrors, descOutboxDepth, descRegistryAge, descRegistryRev, descLaneOpen, descHQLink, descActiveAlarms} {
		ch <- d
	}
}

func (c statusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rep := c.d.Report(ctx)
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	for _, dev := range rep.Devices {
		ch <- prometheus.MustNewConstMetric(descDeviceOnline, prometheus.GaugeValue, b(dev.Online), dev.Name)
		for kind, n := range map[string]uint64{"timeout": dev.Timeouts, "crc": dev.CRCErrors, "nak": dev.NAKs, "mac": dev.MACErrors} {
			ch <- prometheus.MustNewConstMetric(descDeviceErrors, prometheus.CounterValue, float64(n), dev.Name, kind)
		}
	}
	ch <- prometheus.MustNewConstMetric(descOutboxDepth, prometheus.GaugeValue, float64(rep.Outbox.Depth))
	age := -1.0
	if !rep.Registry.HQTime.IsZero() {
		age = rep.Registry.AgeSeconds
	}
	ch <- prometheus.MustNewConstMetric(descRegistryAge, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(descRegistryRev, prometheus.GaugeValue, float64(rep.Registry.Revision))
	ch <- prometheus.MustNewConstMetric(descLaneOpen, prometheus.GaugeValue, b(len(rep.ClosedBecause) == 0))
	ch <- prometheus.MustNewConstMetric(descHQLink, prometheus.GaugeValue, b(rep.HQLink))
	for _, a := range c.d.Status().ActiveAlarms {
		ch <- prometheus.MustNewConstMetric(descActiveAlarms, prometheus.GaugeValue, 1, a)
	}
}

// serveMetrics serves /metrics on the configured local address until ctx ends.
func (d *Daemon) serveMetrics(ctx context.Context, ln net.Listener) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && ctx.Err() == nil {
		d.log.Error("metrics server stopped", "err", err)
	}
}
