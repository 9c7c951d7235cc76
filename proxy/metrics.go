package proxy

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the request path's Prometheus series. Labels never carry a
// user or a path: cardinality stays fixed.
type Metrics struct {
	requests  [numClasses]prometheus.Counter
	durations [numClasses]prometheus.Observer
	denials   *prometheus.CounterVec
	upstream  prometheus.Counter
	seatPages prometheus.Counter
}

// NewMetrics registers the request path's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	req := f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "floatseat", Name: "http_requests_total",
		Help: "Requests through the proxy by class: login, activity, noise, anonymous, denied.",
	}, []string{"class"})
	dur := f.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "floatseat", Name: "http_request_duration_seconds",
		Help:    "Time from request to the end of the response, by class (includes the app's own time).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"class"})
	m := &Metrics{
		denials: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floatseat", Name: "logins_denied_total",
			Help: "Requests answered 503 because every seat of the pool was in use.",
		}, []string{"pool"}),
		upstream: f.NewCounter(prometheus.CounterOpts{
			Namespace: "floatseat", Name: "upstream_errors_total",
			Help: "Requests the app did not answer (502 or client gone).",
		}),
		seatPages: f.NewCounter(prometheus.CounterOpts{
			Namespace: "floatseat", Name: "sso_seat_pages_total",
			Help: "SSO logins of browsers floatseat could not name that ended on the app's \"We can't log you in\" page, answered with floatseat's seat page instead.",
		}),
	}
	// Children are resolved once so the hot path does no label lookup.
	for c := class(0); c < numClasses; c++ {
		m.requests[c] = req.WithLabelValues(classNames[c])
		m.durations[c] = dur.WithLabelValues(classNames[c])
	}
	return m
}

func (m *Metrics) observe(c class, d time.Duration) {
	m.requests[c].Inc()
	m.durations[c].Observe(d.Seconds())
}

func (m *Metrics) denied(pool string) { m.denials.WithLabelValues(pool).Inc() }

func (m *Metrics) upstreamError() { m.upstream.Inc() }

func (m *Metrics) seatPage() { m.seatPages.Inc() }
