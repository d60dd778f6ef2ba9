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
// listener closes at once and in-flight requests get grace to finish.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if errors.Is(err, context.DeadlineExceeded) {
		srv.Close()
		return fmt.Errorf("requests still running %s after the stop signal were cut off", grace)
	}
	return err
}

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
	var s sampler
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := now()
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		end := now()
		if rec.status < 400 {
			ok, skipped := s.allow(end, rate)
			if skipped > 0 {
				logger.LogAttrs(r.Context(), slog.LevelInfo, "request lines left out", slog.Int64("skipped", skipped), slog.Int("per_second", int(rate)))
			}
			if !ok {
				return
			}
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		logger.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int("bytes", rec.bytes),
			slog.Duration("duration", end.Sub(start)),
			slog.String("remote", r.RemoteAddr),
		)
	})
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
