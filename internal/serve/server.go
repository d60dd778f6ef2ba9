package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Limits of the HTTP server. A JWKS endpoint answers small GETs: anything
// slow or large is a misbehaving client, and holding connections for it
// only helps a slowloris.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 10 * time.Second
	IdleTimeout       = 60 * time.Second
	// MaxHeaderBytes bounds a request's head: the request line, every
	// header line and the blank line that ends them. It is the real bound,
	// byte for byte (see SetHeaderLimit); a longer head gets 431.
	MaxHeaderBytes = 8 << 10
	// MinHeaderLimit and MaxHeaderLimit bound what SetHeaderLimit takes.
	MinHeaderLimit = headerSlop + 1
	MaxHeaderLimit = 1 << 20
	// ShutdownGrace is how long in-flight requests get to finish once a
	// signal asked the server to stop.
	ShutdownGrace = 5 * time.Second
)

// headerSlop is what net/http adds to http.Server.MaxHeaderBytes ("bufio
// slop"): it reads a request head of up to MaxHeaderBytes+4096 bytes and
// answers 431 only past that.
const headerSlop = 4096

// SetHeaderLimit makes limit the largest request head srv accepts, exactly:
// a head of limit bytes is served, one of limit+1 gets 431. net/http cannot
// enforce less than MinHeaderLimit.
func SetHeaderLimit(srv *http.Server, limit int) error {
	if limit < MinHeaderLimit || limit > MaxHeaderLimit {
		return fmt.Errorf("a request header limit of %d bytes is out of range: %d to %d", limit, MinHeaderLimit, MaxHeaderLimit)
	}
	srv.MaxHeaderBytes = limit - headerSlop
	return nil
}

// NewServer returns an http.Server for h with request logging on logger
// and the limits above.
func NewServer(h http.Handler, logger *slog.Logger, now func() time.Time) *http.Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		Handler:           LogRequests(h, logger, now),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if err := SetHeaderLimit(srv, MaxHeaderBytes); err != nil {
		panic(err) // MaxHeaderBytes is in range
	}
	return srv
}

// Serve runs srv on ln until ctx is done, then shuts down gracefully: the
// listener closes at once, idle connections close, and in-flight requests
// get grace to finish. When srv comes from NewServer for a *Handler and
// serves plain HTTP, the JWKS requests are answered by the fast path (see
// fast.go) and every other connection by srv.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	fast := newFastServer(srv, ln)
	httpLn := ln
	if fast != nil {
		httpLn = fast.handoff
		go fast.acceptLoop()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(httpLn) }()
	select {
	case err := <-errc:
		if fast != nil {
			fast.shutdown(time.Now())
			fast.wait(closedChan)
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if fast != nil {
		dl, _ := sctx.Deadline()
		fast.shutdown(dl)
	}
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if fast != nil && fast.wait(sctx.Done()) && err == nil {
		err = context.DeadlineExceeded
	}
	if errors.Is(err, context.DeadlineExceeded) {
		srv.Close()
		return fmt.Errorf("requests still running %s after the stop signal were cut off", grace)
	}
	return err
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// RequestLogRate is how many request lines of successful requests (status
// below 400) LogRequests writes per second; past it they are counted, not
// written, and one line says how many were left out. Error responses
// (4xx, 5xx) are always logged.
const RequestLogRate = 100

// LogRequests logs one structured line per request: method, path (never
// the query), status, bytes, duration and the client address. Successful
// requests are sampled at high rates (RequestLogRate), so a flood of
// verifiers after a rotation does not make the log the bottleneck.
func LogRequests(next http.Handler, logger *slog.Logger, now func() time.Time) http.Handler {
	return logRequests(next, logger, now, RequestLogRate)
}

func logRequests(next http.Handler, logger *slog.Logger, now func() time.Time, rate int64) http.Handler {
	if now == nil {
		now = time.Now
	}
	return &loggedHandler{next: next, log: &requestLog{logger: logger, now: now, rate: rate}}
}

// loggedHandler is what LogRequests returns: next, with each request
// logged. Serve looks through it for the *Handler its fast path answers
// from.
type loggedHandler struct {
	next http.Handler
	log  *requestLog
}

func (l *loggedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := l.log.now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	l.next.ServeHTTP(rec, r)
	l.log.record(r.Context(), r.Method, r.URL.Path, rec.status, rec.bytes, start, r.RemoteAddr, nil)
}

// requestLog writes the request lines of both paths (net/http's and the
// fast one), through one sampler.
type requestLog struct {
	logger *slog.Logger
	now    func() time.Time
	rate   int64
	s      sampler
}

// record logs one finished request that began at start. The client's
// address is remote, or addr's when remote is "" (formatted only when the
// line is written).
func (l *requestLog) record(ctx context.Context, method, path string, status, bytes int, start time.Time, remote string, addr net.Addr) {
	end := l.now()
	if status < 400 {
		ok, skipped := l.s.allow(end, l.rate)
		if skipped > 0 {
			l.logger.LogAttrs(ctx, slog.LevelInfo, "request lines left out", slog.Int64("skipped", skipped), slog.Int("per_second", int(l.rate)))
		}
		if !ok {
			return
		}
	}
	if remote == "" && addr != nil {
		remote = addr.String()
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	l.logger.LogAttrs(ctx, level, "request",
		slog.String("method", method),
		slog.String("path", path),
		slog.Int("status", status),
		slog.Int("bytes", bytes),
		slog.Duration("duration", end.Sub(start)),
		slog.String("remote", remote),
	)
}

// sampler lets rate lines a second through, lock-free.
type sampler struct {
	window  atomic.Int64 // the current second, unix
	n       atomic.Int64 // lines asked for in it
	skipped atomic.Int64 // lines refused since the last report
}

// allow reports whether a line at t may be written, and, once per new
// window, how many were left out before it.
func (s *sampler) allow(t time.Time, rate int64) (ok bool, skipped int64) {
	sec := t.Unix()
	if w := s.window.Load(); w != sec && s.window.CompareAndSwap(w, sec) {
		s.n.Store(0)
		skipped = s.skipped.Swap(0)
	}
	if s.n.Add(1) <= rate {
		return true, skipped
	}
	s.skipped.Add(1)
	return false, skipped
}

// recorder notes the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(p)
	r.bytes += n
	return n, err
}
