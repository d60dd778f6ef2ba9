// Package jwks fetches remote JWK Sets for `keyctl verify --jwks URL` and
// keeps them in an on-disk cache shared by every keyctl process of the
// user, the way Supabase's client libraries keep theirs in memory: fresh
// for ten minutes (or less when the server's Cache-Control says so),
// revalidated with If-None-Match, and refetched early at most once per 30
// seconds when a token names a kid the cached set lacks, so hostile tokens
// cannot turn verification into a fetch amplifier.
package jwks

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyctl/keyctl/internal/safefile"
	"github.com/keyctl/keyctl/internal/store"
	"github.com/keyctl/keyctl/pkg/jwk"
)

// Defaults, documented in docs/verification.md.
const (
	DefaultTTL         = 10 * time.Minute
	DefaultTimeout     = 5 * time.Second
	MinRefetchInterval = 30 * time.Second
	MaxBytes           = jwk.MaxInputBytes
	maxRedirects       = 3
	// maxEntryBytes bounds a cache file: the body may grow when escaped
	// inside the entry's JSON.
	maxEntryBytes = 8 * MaxBytes
	entryVersion  = 1
)

// Options configure a Fetcher. The zero value fetches with the defaults and
// caches nothing on disk.
type Options struct {
	// Client makes the requests; nil means a client of its own. Tests
	// inject one. Redirects are always checked against CheckURL.
	Client *http.Client
	// Timeout bounds each fetch, body included; 0 means DefaultTimeout.
	Timeout time.Duration
	// CacheDir holds the cache files; "" keeps nothing on disk (the
	// refetch rate limit then holds within the process only).
	CacheDir string
	// TTL is how long a fetched set is used without asking the server;
	// a server's max-age shortens it, never lengthens it. 0 revalidates
	// on every use (cheap with an ETag).
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MinRefetch spaces early refetches of one URL; 0 means
	// MinRefetchInterval.
	MinRefetch time.Duration
	// Warn reports problems that do not stop verification (a cache file
	// that cannot be written); nil drops them.
	Warn func(format string, args ...any)
	// RootCAs, when set, are the only CAs trusted for https URLs (a
	// private CA, verify --ca); nil means the system's.
	RootCAs *x509.CertPool
	// RootCAsID names RootCAs for the cache (LoadCA's id): sets fetched
	// under one trust are cached apart from those fetched under another,
	// so a set a private CA vouched for is never served to a run that
	// trusts only the system's CAs, or another CA. With RootCAs and no
	// RootCAsID nothing is cached on disk.
	RootCAsID string
}

// LoadCA reads a PEM file of CA certificates for Options.RootCAs, and
// returns with it an id of its contents for Options.RootCAsID.
func LoadCA(path string) (*x509.CertPool, string, error) {
	data, err := safefile.ReadFile(path, 1<<20, safefile.Policy{What: "CA file"})
	if err != nil {
		return nil, "", err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, "", fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	sum := sha256.Sum256(data)
	return pool, hex.EncodeToString(sum[:16]), nil
}

// Fetcher gets JWK Sets by URL through the cache. It is safe for
// concurrent use.
type Fetcher struct {
	opts   Options
	client *http.Client
	mu     sync.Mutex
	// mem is the entry of each URL this process last used or wrote: all
	// there is without a cache dir, and what tells Refresh whether
	// another process has refetched the set since.
	mem    map[string]*Entry
	warned map[string]bool

	dirOnce sync.Once
	dirErr  error // why the cache directory is not used, if it is not
}

// New returns a Fetcher with opts, defaults filled in.
func New(opts Options) *Fetcher {
	if opts.RootCAs != nil && opts.CacheDir != "" {
		// Each trust its own cache: see Options.RootCAsID.
		if opts.RootCAsID == "" {
			opts.CacheDir = ""
		} else {
			opts.CacheDir = filepath.Join(opts.CacheDir, "ca-"+opts.RootCAsID)
		}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.TTL < 0 {
		opts.TTL = 0
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MinRefetch <= 0 {
		opts.MinRefetch = MinRefetchInterval
	}
	var c http.Client
	if opts.Client != nil {
		c = *opts.Client
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = localhostDialer(&net.Dialer{Timeout: opts.Timeout, KeepAlive: 30 * time.Second})
		// One connection per fetch, closed once the body is read: a
		// process fetches a set once or twice, and an idle pooled
		// connection on which a server sends more than its Content-Length
		// makes net/http log "Unsolicited response received on idle HTTP
		// channel" with the standard logger, on stderr, under keyctl's
		// own lines.
		t.DisableKeepAlives = true
		if opts.RootCAs != nil {
			t.TLSClientConfig = &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12}
		}
		c.Transport = t
	}
	if c.Timeout == 0 || c.Timeout > opts.Timeout {
		c.Timeout = opts.Timeout
	}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		if _, err := CheckURL(req.URL.String()); err != nil {
			return err
		}
		// A set asked for over https must not arrive over plain http,
		// even from a loopback address: that would let the https
		// server hand keyctl whatever listens on this machine.
		for _, prev := range via {
			if prev.URL.Scheme == "https" && req.URL.Scheme != "https" {
				return fmt.Errorf("%w: a redirect from https to %s", ErrInsecureURL, req.URL.Redacted())
			}
		}
		return nil
	}
	return &Fetcher{opts: opts, client: &c, mem: map[string]*Entry{}, warned: map[string]bool{}}
}

// Set is a fetched JWKS, checked: public keys only, no shared secrets, no
// duplicate kids, every key fit for signatures.
type Set struct {
	URL     string
	Keys    []*jwk.Key
	Skipped int // entries keyctl cannot use (SkippedKeys says which and why)
	// SkippedKeys are the entries left out, each with the reason.
	SkippedKeys []jwk.SkippedKey
	// FetchedAt is when the server last sent or confirmed this set.
	FetchedAt time.Time
	// FromCache is true when no request was made.
	FromCache bool
	// NotModified is true when the server answered 304 to If-None-Match.
	NotModified bool
}

// RateLimitError says an early refetch was refused: the URL was fetched
// less than MinRefetch ago, by this process or another.
type RateLimitError struct {
	URL      string
	Last     time.Time
	Interval time.Duration
	Wait     time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%s was fetched less than %s ago; not fetching it again for %s", e.URL, e.Interval, e.Wait.Round(time.Second))
}

// ErrInsecureURL is wrapped by CheckURL's refusals.
var ErrInsecureURL = errors.New("JWKS URLs must use https (http only for loopback hosts)")

// CheckURL accepts https URLs, and http URLs whose host is a loopback
// address (127.0.0.0/8, [::1]) or localhost: keys fetched over plain HTTP
// from elsewhere could be swapped by anyone on the path.
func CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("JWKS URL %q: %v", raw, err)
	}
	if u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("JWKS URL %q has no host", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("JWKS URL %q: credentials in the URL are not supported", raw)
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if isLoopback(u.Hostname()) {
			return u, nil
		}
		return nil, fmt.Errorf("%w: %s", ErrInsecureURL, u.Redacted())
	}
	return nil, fmt.Errorf("%w: scheme %q in %s", ErrInsecureURL, u.Scheme, u.Redacted())
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// lookupIPAddr resolves host names; tests replace it.
var lookupIPAddr = net.DefaultResolver.LookupIPAddr

// localhostDialer dials like d, except that "localhost" must resolve to a
// loopback address and is dialled there only. CheckURL lets plain http
// through for localhost on the strength of its name; Go resolves it like
// any other name (the hosts file, then DNS), so without this a hosts file
// lacking it and a spoofed DNS answer would send an unencrypted fetch of
// trusted keys across the network.
func localhostDialer(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || !strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
			return d.DialContext(ctx, network, addr)
		}
		addrs, err := lookupIPAddr(ctx, host)
		if err != nil {
			return nil, err
		}
		var firstErr error
		for _, a := range addrs {
			if !a.IP.IsLoopback() {
				continue
			}
			conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.IP.String(), port))
			if err == nil {
				return conn, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		if firstErr != nil {
			return nil, firstErr
		}
		return nil, fmt.Errorf("%w: localhost resolves to %v, no loopback address", ErrInsecureURL, addrs)
	}
}

// DefaultCacheDir returns $XDG_CACHE_HOME/keyctl/jwks, or the OS user
// cache directory's keyctl/jwks; "" when there is none.
func DefaultCacheDir(env func(string) (string, bool)) string {
	if env != nil {
		if dir, ok := env("XDG_CACHE_HOME"); ok && dir != "" {
			return filepath.Join(dir, "keyctl", "jwks")
		}
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "keyctl", "jwks")
}

// CachePath names the cache file of a URL in dir: a hash, so any URL makes
// a safe file name.
func CachePath(dir, rawURL string) string {
	sum := sha256.Sum256([]byte(rawURL))
	return filepath.Join(dir, hex.EncodeToString(sum[:16])+".json")
}

// lockPath names the lock file of a URL's cache file: beside it, so the
// cache directory holds everything, and never removed, since deleting it
// while another process waits on it would let two fetches in.
func lockPath(dir, rawURL string) string {
	return strings.TrimSuffix(CachePath(dir, rawURL), ".json") + ".lock"
}

// Entry is one cache file. Separate processes share it: LastAttempt is
// what makes the refetch rate limit hold across them.
type Entry struct {
	Version int    `json:"version"`
	URL     string `json:"url"`
	// Body is the JWKS as the server sent it; "" when the server said
	// no-store or nothing was fetched successfully yet.
	Body string `json:"body,omitempty"`
	ETag string `json:"etag,omitempty"`
	// FetchedAt is when the server last sent or confirmed Body.
	FetchedAt time.Time `json:"fetched_at,omitzero"`
	// FreshUntil is when Body stops being used without asking the server.
	FreshUntil time.Time `json:"fresh_until,omitzero"`
	// LastAttempt is when a request was last made, successful or not.
	LastAttempt time.Time `json:"last_attempt,omitzero"`
}

// ParseEntry reads a cache file strictly; a file that does not parse is
// treated as absent by the Fetcher.
func ParseEntry(data []byte) (*Entry, error) {
	if len(data) > maxEntryBytes {
		return nil, fmt.Errorf("cache entry larger than %d bytes", maxEntryBytes)
	}
	var e Entry
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("cache entry: %v", err)
	}
	if dec.More() {
		return nil, errors.New("cache entry: data after the object")
	}
	if e.Version != entryVersion {
		return nil, fmt.Errorf("cache entry version %d, want %d", e.Version, entryVersion)
	}
	return &e, nil
}

// Get returns the JWKS at rawURL: from the cache while it is fresh, else
// from the server (revalidated with If-None-Match when an ETag is known).
// An error means the set could not be had; a stale copy is never used in
// its place, since the server may have dropped a revoked key from it.
func (f *Fetcher) Get(ctx context.Context, rawURL string) (*Set, error) {
	u, err := CheckURL(rawURL)
	if err != nil {
		return nil, err
	}
	key := u.String()
	f.mu.Lock()
	defer f.mu.Unlock()
	if set := f.cached(key, f.load(key)); set != nil {
		return set, nil
	}
	unlock, err := f.lock(ctx, key)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Another process may have fetched the set while this one waited.
	e := f.load(key)
	if set := f.cached(key, e); set != nil {
		return set, nil
	}
	return f.fetch(ctx, key, e)
}

// cached returns the set e holds when it is fresh, else nil.
func (f *Fetcher) cached(key string, e *Entry) *Set {
	if e == nil || e.Body == "" || !f.fresh(e) {
		return nil
	}
	set, err := parseBody(key, e.Body)
	if err != nil {
		return nil
	}
	f.mem[key] = e
	set.FetchedAt, set.FromCache = e.FetchedAt, true
	return set
}

// fresh reports whether a cached body may be used without asking the
// server: within the freshness the server allowed when it sent it, and
// within this run's TTL, so a shorter --cache-ttl applies to sets cached
// with a longer one.
func (f *Fetcher) fresh(e *Entry) bool {
	now := f.opts.Now()
	// A set fetched "in the future" was fetched under a clock that has
	// since gone back (or the file was edited): its freshness would last
	// as long as the clock error, keeping a revoked key trusted. Ask the
	// server instead.
	if now.Before(e.FetchedAt) {
		return false
	}
	return now.Before(e.FreshUntil) && now.Before(e.FetchedAt.Add(f.opts.TTL))
}

// Refresh fetches rawURL again before its cache expires, because a token
// named a kid the cached set lacks. It refuses with *RateLimitError when
// the URL was requested less than MinRefetch ago.
func (f *Fetcher) Refresh(ctx context.Context, rawURL string) (*Set, error) {
	u, err := CheckURL(rawURL)
	if err != nil {
		return nil, err
	}
	key := u.String()
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := f.mem[key]
	// The lock spans the decision and the fetch: processes that meet an
	// unknown kid at the same moment make one request between them, and
	// the rest find it recorded.
	unlock, err := f.lock(ctx, key)
	if err != nil {
		return nil, err
	}
	defer unlock()
	e := f.load(key)
	if e != nil && !e.LastAttempt.IsZero() {
		since := f.opts.Now().Sub(e.LastAttempt)
		// A last attempt in the future means a clock that jumped back;
		// waiting for it could take forever, so it does not count.
		if since >= 0 && since < f.opts.MinRefetch {
			// Another process got a new set since this one read its
			// own: that is the refetch this one wanted, made already.
			if seen != nil && e.Body != seen.Body {
				if set := f.cached(key, e); set != nil {
					return set, nil
				}
			}
			return nil, &RateLimitError{URL: u.Redacted(), Last: e.LastAttempt, Interval: f.opts.MinRefetch, Wait: f.opts.MinRefetch - since}
		}
	}
	return f.fetch(ctx, key, e)
}

// errLockBusy says another process held a URL's lock for longer than a
// fetch can take.
var errLockBusy = errors.New("held by another keyctl process")

// lock takes the URL's lock file, beside its cache file, for one Get or
// Refresh: deciding to fetch, fetching and writing the cache back happen
// in one process at a time, so overlapping keyctl processes keep the
// refetch limit between them. Without a cache dir, f.mu does that within
// the process, and there is nothing to share with others.
//
// A lock that cannot be had (an unwritable or foreign cache directory, a
// holder stuck for twice the fetch timeout) is warned about and done
// without, rather than failing verification: the attempt fetch records
// before each request still keeps a process that reads the cache after
// it from fetching again within the limit.
func (f *Fetcher) lock(ctx context.Context, key string) (func(), error) {
	dir := f.cacheDir()
	if dir == "" {
		return func() {}, nil
	}
	path := lockPath(dir, key)
	unlock, err := store.Flock(ctx, path, 2*f.opts.Timeout)
	var busy *store.BusyError
	switch {
	case err == nil:
		return unlock, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("fetch JWKS %s: %w", redact(key), ctx.Err())
	case errors.As(err, &busy):
		f.warn("the JWKS cache lock %s was %s for over %s; going on without it", path, errLockBusy, 2*f.opts.Timeout)
	default:
		f.warn("cannot lock the JWKS cache, going on without the lock: %v", err)
	}
	return func() {}, nil
}

// warn passes a problem to Options.Warn once per Fetcher: a cache file
// is read both before and after taking the lock, and the same problem
// said twice is noise.
func (f *Fetcher) warn(format string, args ...any) {
	if f.opts.Warn == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if f.warned[msg] {
		return
	}
	f.warned[msg] = true
	f.opts.Warn("%s", msg)
}

// load returns the entry for key: the cache file, or this process's own
// when it is newer (its write failed) or there is no cache dir. The file
// comes first otherwise, since another process may have written it after
// this one last looked.
func (f *Fetcher) load(key string) *Entry {
	mine := f.mem[key]
	if f.cacheDir() == "" {
		return mine
	}
	shared := f.loadFile(key)
	if shared == nil || (mine != nil && mine.LastAttempt.After(shared.LastAttempt)) {
		return mine
	}
	return shared
}

// loadFile reads the cache file for key; nil when it is absent or
// unusable.
func (f *Fetcher) loadFile(key string) *Entry {
	path := CachePath(f.cacheDir(), key)
	data, err := readCapped(path, maxEntryBytes)
	if err != nil {
		if errors.Is(err, errNotPrivate) {
			f.warn("ignoring the JWKS cache file %s: %v", path, err)
		}
		return nil
	}
	e, err := ParseEntry(data)
	if err != nil || e.URL != key {
		return nil
	}
	return e
}

// errNotPrivate marks a cache file someone else could have written.
var errNotPrivate = errors.New("not a private file of this user")

// readCapped reads a cache file of at most limit bytes. The file must be
// a regular file that only this user can write, as save makes it: a cache
// directory shared with others (XDG_CACHE_HOME=/tmp/...) must not let
// them plant the keys keyctl trusts.
//
// safefile opens it without blocking, so a FIFO planted there is refused
// rather than waited on (before the fetch timeout has even started).
func readCapped(path string, limit int64) ([]byte, error) {
	file, st, err := safefile.Open(path, safefile.Policy{What: "JWKS cache file", Owner: true})
	var notRegular *safefile.NotRegularError
	var foreign *safefile.OwnerError
	switch {
	case errors.As(err, &notRegular):
		return nil, fmt.Errorf("%w: not a regular file", errNotPrivate)
	case errors.As(err, &foreign):
		return nil, fmt.Errorf("%w: owned by another user", errNotPrivate)
	case err != nil:
		return nil, err
	}
	defer file.Close()
	if st.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("%w: mode %04o lets others write it", errNotPrivate, st.Mode().Perm())
	}
	if !ownedByMe(st) {
		return nil, fmt.Errorf("%w: owned by another user", errNotPrivate)
	}
	data, err := io.ReadAll(io.LimitReader(file, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errors.New("too large")
	}
	return data, nil
}

// save keeps the entry for this process and, with a cache dir, on disk.
func (f *Fetcher) save(key string, e *Entry) {
	f.mem[key] = e
	dir := f.cacheDir()
	if dir == "" {
		return
	}
	data, err := json.Marshal(e)
	if err == nil {
		err = replaceFile(CachePath(dir, key), append(data, '\n'))
	}
	if err != nil {
		f.warn("cannot write the JWKS cache: %v", err)
	}
}

// cacheDir returns the cache directory, made if missing, or "" when there
// is none or it is not safe to use: a directory another user owns or can
// write (a shared XDG_CACHE_HOME) could hold a link planted where a cache
// file goes, or swap the files. That is warned about once, and
// verification goes on without the cache.
func (f *Fetcher) cacheDir() string {
	dir := f.opts.CacheDir
	if dir == "" {
		return ""
	}
	f.dirOnce.Do(func() {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			f.dirErr = err
			return
		}
		f.dirErr = safefile.CheckDir(filepath.Join(dir, "entry.json"), "JWKS cache")
	})
	if f.dirErr != nil {
		f.warn("not using the JWKS cache: %v", f.dirErr)
		return ""
	}
	return dir
}

// replaceFile writes data to path through a temporary file in the same
// directory, renamed over path itself: a link at path is replaced, never
// followed (store.WriteFileAtomic follows it, as a keyring may be one).
func replaceFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keyctl-jwks-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name)
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(name, path)
}

// fetch records the attempt, asks the server, conditionally when old has
// a body and an ETag, and caches what came back.
func (f *Fetcher) fetch(ctx context.Context, key string, old *Entry) (*Set, error) {
	now := f.opts.Now()
	next := &Entry{Version: entryVersion, URL: key, LastAttempt: now}
	if old != nil {
		// Until the server answers, the old body stays: a failed fetch
		// must not erase it, only record the attempt.
		next.Body, next.ETag, next.FetchedAt, next.FreshUntil = old.Body, old.ETag, old.FetchedAt, old.FreshUntil
	}
	// The attempt is on disk before the request leaves, so that it counts
	// for a process that reads the cache meanwhile (one that could not
	// take the lock) and survives this one being killed mid-request.
	f.save(key, next)
	set, err := f.request(ctx, key, next, now)
	f.save(key, next)
	return set, err
}

func (f *Fetcher) request(ctx context.Context, key string, e *Entry, now time.Time) (*Set, error) {
	redacted := redact(key)
	ctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, key, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS %s: %v", redacted, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	req.Header.Set("User-Agent", "keyctl")
	conditional := e.Body != "" && e.ETag != ""
	if conditional {
		req.Header.Set("If-None-Match", e.ETag)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("fetch JWKS %s: no answer within %s", redacted, f.opts.Timeout)
		}
		return nil, fmt.Errorf("fetch JWKS %s: %w", redacted, err)
	}
	defer resp.Body.Close()
	fresh, storable := freshness(resp.Header, f.opts.TTL)
	switch {
	case resp.StatusCode == http.StatusNotModified && conditional:
		set, err := parseBody(key, e.Body)
		if err != nil {
			return nil, fmt.Errorf("JWKS %s: cached copy: %v", redacted, err)
		}
		if et := cacheableETag(resp.Header.Get("ETag")); et != "" {
			e.ETag = et
		}
		e.FetchedAt, e.FreshUntil = now, now.Add(fresh)
		set.FetchedAt, set.NotModified = now, true
		return set, nil
	case resp.StatusCode != http.StatusOK:
		// The code and its standard text, not resp.Status: the server
		// writes the reason phrase, and it would reach the terminal.
		return nil, fmt.Errorf("fetch JWKS %s: %d %s", redacted, resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	if resp.ContentLength > MaxBytes {
		return nil, fmt.Errorf("JWKS %s: %d bytes, over the %d-byte limit", redacted, resp.ContentLength, MaxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBytes+1))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("fetch JWKS %s: no complete answer within %s", redacted, f.opts.Timeout)
		}
		return nil, fmt.Errorf("fetch JWKS %s: %v", redacted, err)
	}
	if len(body) > MaxBytes {
		return nil, fmt.Errorf("JWKS %s: over the %d-byte limit", redacted, MaxBytes)
	}
	set, err := parseBody(key, string(body))
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %v", redacted, err)
	}
	e.Body, e.ETag, e.FetchedAt, e.FreshUntil = string(body), cacheableETag(resp.Header.Get("ETag")), now, now.Add(fresh)
	if !storable {
		e.Body, e.ETag, e.FreshUntil = "", "", time.Time{}
	}
	set.FetchedAt = now
	return set, nil
}

// redact is the URL for messages, any password masked.
func redact(key string) string {
	if u, err := url.Parse(key); err == nil {
		return u.Redacted()
	}
	return key
}

// maxETagBytes bounds an ETag kept in the cache and sent back.
const maxETagBytes = 256

// cacheableETag returns tag when it is an entity-tag as RFC 9110 section
// 8.8.3 writes it (optionally weak, quoted, visible ASCII) and short, else
// "": the server's bytes go into the cache file and back into a request
// header, and an odd one must neither bloat the file past what load reads
// (which would also lose the refetch rate limit) nor break revalidation.
func cacheableETag(tag string) string {
	t := strings.TrimPrefix(tag, "W/")
	if len(tag) > maxETagBytes || len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
		return ""
	}
	for i := 1; i < len(t)-1; i++ {
		if c := t[i]; c < 0x21 || c == '"' || c > 0x7e {
			return ""
		}
	}
	return tag
}

// parseBody checks a JWKS as pkg/jwk does for any set from outside: no
// private members, no shared secrets, no duplicate kids, keys fit for
// signatures; unknown key types skipped.
func parseBody(key, body string) (*Set, error) {
	ps, err := jwk.ParseSet([]byte(body), jwk.ParseSetOptions{})
	if err != nil {
		return nil, err
	}
	return &Set{URL: key, Keys: ps.Keys, Skipped: ps.Skipped, SkippedKeys: ps.SkippedKeys}, nil
}

// freshness reads Cache-Control (RFC 9111 section 5.2): max-age (less
// Age) shortens ttl, no-cache makes it zero, no-store keeps the body off
// disk. Other directives do not concern a private cache like this one.
func freshness(h http.Header, ttl time.Duration) (time.Duration, bool) {
	maxAge, hasMaxAge, noStore, noCache := ParseCacheControl(h.Values("Cache-Control"))
	fresh := ttl
	if noCache {
		fresh = 0
	}
	if hasMaxAge {
		if age, err := strconv.ParseInt(strings.TrimSpace(h.Get("Age")), 10, 64); err == nil && age > 0 {
			maxAge -= time.Duration(min(age, 1<<31)) * time.Second
		}
		fresh = max(0, min(fresh, maxAge))
	}
	return fresh, !noStore
}

// ParseCacheControl reads the directives that matter here from
// Cache-Control header values. A malformed max-age ("-1", "abc") counts as
// max-age=0, the response stale at once, as RFC 9111 section 4.2.1
// encourages: a server that meant "do not keep this" must not get ten
// minutes of caching for a typo.
func ParseCacheControl(values []string) (maxAge time.Duration, hasMaxAge, noStore, noCache bool) {
	for _, v := range values {
		for _, d := range strings.Split(v, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "max-age":
				n, err := strconv.ParseUint(strings.Trim(strings.TrimSpace(arg), `"`), 10, 64)
				var ne *strconv.NumError
				switch {
				case errors.As(err, &ne) && ne.Err == strconv.ErrRange:
					n = 1 << 31 // all digits, just too many of them
				case err != nil:
					n = 0 // malformed: stale
				}
				secs := min(n, 1<<31) // RFC 9111 section 1.2.2: cap at 2^31
				if !hasMaxAge || time.Duration(secs)*time.Second < maxAge {
					maxAge = time.Duration(secs) * time.Second
				}
				hasMaxAge = true
			case "no-store":
				noStore = true
			case "no-cache":
				noCache = true
			}
		}
	}
	return maxAge, hasMaxAge, noStore, noCache
}
