package serve

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Metrics is what /metrics exposes, in the Prometheus text format:
//
//	keyctl_serve_requests_total{path,status}  requests answered, by route and status (304s included)
//	keyctl_serve_reloads_total                 good loads of the source
//	keyctl_serve_reload_errors_total           failed load attempts
//	keyctl_serve_last_good_load_age_seconds    seconds since the last good load
//	keyctl_serve_published_keys                keys in the published JWKS
//	keyctl_serve_ready                         1 once a key set is loaded
//
// plus the Go runtime's and the process's own (go_*, process_*). Counting
// a request is one atomic add.
type Metrics struct {
	set          *metrics.Set
	byRoute      [len(routes)][len(statuses)]*metrics.Counter
	reloads      *metrics.Counter
	reloadErrors *metrics.Counter
	lastGood     atomic.Int64 // unix nanoseconds, 0 before the first
	keys         atomic.Int64
	ready        atomic.Bool
	now          func() time.Time
}

// routes are the path label values; anything else counts as "other", so a
// scanner cannot grow the label set without bound.
var routes = [...]string{JWKSPath, SupabaseJWKSPath, DiscoveryPath, SupabaseDiscoveryPath, HealthPath, ReadyPath, MetricsPath, "other"}

var statuses = [...]int{200, 204, 304, 404, 405, 503}

// EnableMetrics makes the handler count its requests and reloads and
// serve them at /metrics. Call it before serving.
func (h *Handler) EnableMetrics() *Metrics {
	// The library writes # HELP and # TYPE lines only when asked, and the
	// switch is process-wide: this process's metrics are all served here.
	metrics.ExposeMetadata(true)
	m := &Metrics{set: metrics.NewSet(), now: time.Now}
	for i, route := range routes {
		for j, st := range statuses {
			m.byRoute[i][j] = m.set.NewCounter(requestsName(route, st))
		}
	}
	m.reloads = m.set.NewCounter("keyctl_serve_reloads_total")
	m.reloadErrors = m.set.NewCounter("keyctl_serve_reload_errors_total")
	m.set.NewGauge("keyctl_serve_last_good_load_age_seconds", func() float64 {
		t := m.lastGood.Load()
		if t == 0 {
			return -1
		}
		return m.now().Sub(time.Unix(0, t)).Seconds()
	})
	m.set.NewGauge("keyctl_serve_published_keys", func() float64 { return float64(m.keys.Load()) })
	m.set.NewGauge("keyctl_serve_ready", func() float64 {
		if m.ready.Load() {
			return 1
		}
		return 0
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.metrics = m
	if h.snap != nil {
		m.reloads.Inc() // the first load, made before metrics were on
		m.goodLoad(h.lastGood)
	}
	h.prepare()
	return m
}

func requestsName(route string, status int) string {
	return `keyctl_serve_requests_total{path="` + route + `",status="` + strconv.Itoa(status) + `"}`
}

// observe notes a newly prepared state. Called with the handler's mu held.
func (m *Metrics) observe(s *Snapshot) {
	if s == nil {
		return
	}
	m.ready.Store(true)
	m.keys.Store(int64(s.Keys))
}

// goodLoad notes a good load at t.
func (m *Metrics) goodLoad(t time.Time) { m.lastGood.Store(t.UnixNano()) }

// count adds one request for path with status.
func (m *Metrics) count(path string, status int) {
	ri := len(routes) - 1
	for i, r := range routes[:len(routes)-1] {
		if r == path {
			ri = i
			break
		}
	}
	for j, st := range statuses {
		if st == status {
			m.byRoute[ri][j].Inc()
			return
		}
	}
	m.set.GetOrCreateCounter(requestsName(routes[ri], status)).Inc()
}

func (m *Metrics) serve(w http.ResponseWriter, r *http.Request) int {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, r, "GET, HEAD")
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return http.StatusOK
	}
	m.set.WritePrometheus(w)
	metrics.WriteProcessMetrics(w)
	return http.StatusOK
}
