package serve

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyctl/keyctl/internal/safefile"
	"github.com/keyctl/keyctl/pkg/jwk"
)

// The paths the JWKS is published at: the well-known path RFC 8414 clients
// and panva/jose users point at, and the one Supabase's client libraries
// derive from a project URL.
const (
	JWKSPath         = "/.well-known/jwks.json"
	SupabaseJWKSPath = "/auth/v1/.well-known/jwks.json"
	HealthPath       = "/healthz"
	// ReadyPath answers 503 until the first good load, then 200.
	ReadyPath = "/readyz"
	// DiscoveryPath and SupabaseDiscoveryPath serve an OpenID Connect
	// discovery document, the second under Supabase Auth's /auth/v1.
	DiscoveryPath         = "/.well-known/openid-configuration"
	SupabaseDiscoveryPath = "/auth/v1/.well-known/openid-configuration"
	// MetricsPath is the Prometheus endpoint, served only with EnableMetrics.
	MetricsPath = "/metrics"
)

// DefaultMaxAge is what Supabase Auth sends: Cache-Control: public, max-age=600.
const DefaultMaxAge = 10 * time.Minute

// racyWindow is how long after a read a file's modification time is too
// close to trust: a second write in the same timestamp tick leaves the size
// and times unchanged, so a file that fresh is read once more when the
// window has passed, and its content compared. Coarse filesystems tick once
// a second or two; Linux's every few ms.
const racyWindow = 3 * time.Second

// retryInterval spaces the attempts to read a source whose last read
// failed while its stat stayed the same (an error that may be passing).
const retryInterval = time.Second

// maxSourceBytes bounds the file read to detect content changes.
const maxSourceBytes = 16 << 20

// Options configure a Handler.
type Options struct {
	// Path is the file the keys come from. Requests never look at it:
	// Watch follows its changes, Reload takes one in at once.
	Path string
	// Load turns the source's bytes into the key set; fi is the file they
	// were read from. The handler reads the file itself, never blocking
	// (a FIFO is refused) and at most 16 MiB, only when it changed. Load
	// may hand back private keys and shared secrets: only the public form
	// of asymmetric keys is published.
	Load func(path string, data []byte, fi fs.FileInfo) (*jwk.Set, error)
	// Policy is what the file must satisfy besides being a regular file
	// (safefile.Trusted for a keyring). Its What names the file in
	// messages; Source is the default.
	Policy safefile.Policy
	// Source names the kind of source in logs ("keyring", "keys file").
	Source string
	// MaxAge goes into Cache-Control as whole seconds.
	MaxAge time.Duration
	// Logger receives reload events; nil discards them.
	Logger *slog.Logger
	// Now is the clock for load times; nil means time.Now.
	Now func() time.Time
	// Issuer is the issuer the discovery documents announce; "" means the
	// base URL given to SetBaseURL (and that URL + /auth/v1 for the
	// document under /auth/v1).
	Issuer string
}

// Snapshot is one published version of the key set.
type Snapshot struct {
	Body     []byte // the JWKS document, one JSON line
	ETag     string // strong, quoted
	Keys     int    // number of keys published
	Skipped  int    // shared secrets in the source, never published
	Algs     []string
	LoadedAt time.Time
}

// Handler serves the JWKS, discovery, /healthz, /readyz, optionally
// /metrics, and JSON errors for anything else. It is safe for concurrent
// use.
//
// Requests never touch the source: each is answered from a prepared,
// immutable response (body and headers computed once per version) that a
// reload swaps in atomically. Reloads happen off the request path: on a
// file change reported by inotify (Watch), on a timed stat as the
// fallback, on Reload (SIGHUP), or on Push.
type Handler struct {
	opts         Options
	log          *slog.Logger
	cacheControl string
	stat         func(string) (stamp, error)               // statStamp; tests freeze it
	read         func(string) ([]byte, fs.FileInfo, error) // readSource; tests count calls
	clock        func() time.Time                          // the real clock file times come from; tests move it

	live    atomic.Pointer[prepared] // what requests are answered from
	metrics *Metrics                 // nil unless EnableMetrics

	mu         sync.Mutex // serialises reloads; never taken by a JWKS request
	snap       *Snapshot  // last good set; nil until the first good load
	seen       stamp      // file version of the last read attempt
	seenHash   [sha256.Size]byte
	haveSeen   bool
	confirmed  time.Time // when the file last read as seenHash (h.clock)
	readFailed bool      // the last read of version seen failed
	retryAt    time.Time // when to read it again then
	failure    string    // error of the last attempt; "" when it succeeded
	failedAt   time.Time // since when the attempts fail
	pushed     bool      // the source pushes its changes (NewPushed)
	issuer     string    // --issuer, "" for the base URL
	base       string    // the served base URL, set by SetBaseURL
	lastGood   time.Time // when the source last loaded well (h.clock)
}

// New loads the source once and returns the handler. The first load must
// succeed: a server that starts with nothing to publish helps nobody.
// Call Watch to follow the source's changes, Reload to take one in now.
func New(opts Options) (*Handler, error) {
	if opts.Load == nil || opts.Path == "" {
		return nil, errors.New("serve: no key source")
	}
	if opts.MaxAge < 0 || opts.MaxAge%time.Second != 0 {
		return nil, fmt.Errorf("serve: max-age %s is not a whole number of seconds", opts.MaxAge)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Policy.What == "" {
		opts.Policy.What = opts.Source
	}
	h := &Handler{opts: opts, log: opts.Logger, stat: statStamp, clock: time.Now, issuer: opts.Issuer}
	h.read = h.readSource
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.cacheControl = "public, max-age=" + strconv.FormatInt(int64(opts.MaxAge/time.Second), 10)
	st, err := h.stat(opts.Path)
	if err != nil {
		return nil, err
	}
	if err := h.load(st, false); err != nil {
		return nil, err
	}
	h.prepare()
	return h, nil
}

// Current returns the set being served (nil before the first good load of
// a pushed handler). It does not look at the source: see Reload.
func (h *Handler) Current() *Snapshot {
	return h.live.Load().snap
}

// Ready reports whether a key set has been loaded, so the JWKS can be served.
func (h *Handler) Ready() bool {
	return h.live.Load().snap != nil
}

// Reload checks the source now and takes in a change, as a watcher event
// would: one stat, and a read only when the file changed. A pushed
// handler's source announces its own changes: Reload does nothing there.
func (h *Handler) Reload() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refresh()
	h.prepare()
}

// Failure returns the error of the last reload attempt, or "".
func (h *Handler) Failure() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failure
}

// refresh reloads the source when its file changed. A source that fails
// keeps the last good set in place. Called with mu held.
//
// Each call costs one stat; the file is read only when the stat differs
// from the last read's, plus once more for a file read while it was fresh
// (see racyWindow), and at most once a retryInterval while reads fail. A FIFO or other non-regular file is refused on its stat, without
// being opened.
func (h *Handler) refresh() {
	if h.pushed {
		return
	}
	st, err := h.stat(h.opts.Path)
	if err != nil {
		// Gone or unreachable: whatever comes back next is a new version.
		h.haveSeen = false
		h.fail(err)
		return
	}
	if !st.mode.IsRegular() {
		h.seen, h.haveSeen, h.seenHash, h.readFailed = st, true, [sha256.Size]byte{}, false
		h.confirmed = time.Time{}
		h.fail(&safefile.NotRegularError{What: h.opts.Policy.What, Path: h.opts.Path, Mode: st.mode})
		return
	}
	recheck := false
	if h.haveSeen && st == h.seen {
		now := h.clock()
		mtime := time.Unix(0, st.mtime)
		switch {
		case h.readFailed:
			if now.Before(h.retryAt) {
				return
			}
		case mtime.Before(h.confirmed.Add(-racyWindow)):
			return // read well after its last write: the stat tells every change
		case !now.After(mtime.Add(racyWindow)):
			return // fresh: compare the content once the window has passed
		default:
			recheck = true
		}
	}
	if err := h.load(st, recheck); err != nil {
		h.fail(err)
	}
}

// load reads the source at version st and, if it yields a publishable set,
// makes it current. With recheck, content equal to the last read's is
// only noted as confirmed. Called with mu held (or before the handler is
// shared).
func (h *Handler) load(st stamp, recheck bool) error {
	now := h.opts.Now()
	// confirmed is compared with the file's modification time, which the
	// filesystem takes from the real clock, not from an injected one; and
	// it is taken before the read, so a write during the read counts as
	// after it.
	readAt := h.clock()
	data, fi, err := h.read(h.opts.Path)
	h.seen, h.haveSeen, h.confirmed = st, true, readAt
	if err != nil {
		h.seenHash, h.readFailed, h.retryAt = [sha256.Size]byte{}, true, readAt.Add(retryInterval)
		return err
	}
	h.readFailed = false
	sum := sha256.Sum256(data)
	if recheck && sum == h.seenHash {
		return nil
	}
	h.seenHash = sum
	set, err := h.opts.Load(h.opts.Path, data, fi)
	if err != nil {
		return err
	}
	return h.install(set, now)
}

// install makes set the one served, if it can be published. Called with
// mu held (or before the handler is shared); the caller then calls prepare.
func (h *Handler) install(set *jwk.Set, now time.Time) error {
	body, n, skipped, err := publish(set)
	if err != nil {
		return err
	}
	snap := &Snapshot{Body: body, ETag: ETag(body), Keys: n, Skipped: skipped, Algs: algs(set), LoadedAt: now}
	if m := h.metrics; m != nil {
		m.reloads.Inc()
		m.goodLoad(h.clock())
	}
	h.lastGood = h.clock()
	switch {
	case h.snap == nil:
	case h.failure != "":
		h.log.Info("keys readable again", "source", h.opts.Source, "path", h.opts.Path, "keys", n, "etag", snap.ETag, "changed", snap.ETag != h.snap.ETag)
	case snap.ETag != h.snap.ETag:
		h.log.Info("keys reloaded", "source", h.opts.Source, "path", h.opts.Path, "keys", n, "etag", snap.ETag)
	}
	h.failure = ""
	h.failedAt = time.Time{}
	if h.snap != nil && h.snap.ETag == snap.ETag {
		// Same public keys (a state change that only touched private
		// members, say): keep the original, and its load time.
		return nil
	}
	h.snap = snap
	return nil
}

// fail records a reload error and logs it once per distinct error, so a
// broken file does not flood the log with one line per check.
func (h *Handler) fail(err error) {
	msg := err.Error()
	if h.failure == "" {
		h.failedAt = h.opts.Now()
	}
	if m := h.metrics; m != nil {
		m.reloadErrors.Inc()
	}
	if msg == h.failure {
		return
	}
	h.failure = msg
	if h.snap != nil {
		h.log.Error("cannot reload keys; serving the last good set", "source", h.opts.Source, "path", h.opts.Path, "err", msg, "etag", h.snap.ETag, "keys", h.snap.Keys)
	} else {
		h.log.Error("cannot load keys; not ready", "source", h.opts.Source, "path", h.opts.Path, "err", msg)
	}
}

// readSource reads the source under the handler's policy: never blocking
// on a FIFO swapped in since the stat, closing what it opened whatever
// happens, and at most maxSourceBytes.
func (h *Handler) readSource(path string) ([]byte, fs.FileInfo, error) {
	f, fi, err := safefile.Open(path, h.opts.Policy)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSourceBytes+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > maxSourceBytes {
		return nil, nil, &safefile.TooLargeError{What: h.opts.Policy.What, Path: path, Limit: maxSourceBytes}
	}
	return data, fi, nil
}
