package cmd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/config"
	"github.com/keyctl/keyctl/internal/keysfile"
	"github.com/keyctl/keyctl/internal/keystore"
	"github.com/keyctl/keyctl/internal/pgstore"
	"github.com/keyctl/keyctl/internal/safefile"
	"github.com/keyctl/keyctl/internal/serve"
	"github.com/keyctl/keyctl/internal/store"
	"github.com/keyctl/keyctl/internal/ui"
	"github.com/keyctl/keyctl/pkg/jwk"
)

// defaultServeAddr is the port the Supabase CLI's local API listens on, so
// a client configured with SUPABASE_URL=http://127.0.0.1:54321 finds the
// keys at the same place.
const defaultServeAddr = "127.0.0.1:54321"

type serveOptions struct {
	IO        *ui.IO
	Now       func() time.Time
	Factory   *Factory
	Addr      string
	MaxAge    time.Duration
	KeysFile  string
	LogFormat string
	// MaxHeaderBytes is the largest request head served, exactly.
	MaxHeaderBytes int
	// A keyring in PostgreSQL: how often to check its version, and
	// whether to rely on that alone (no LISTEN).
	PollInterval time.Duration
	NoListen     bool
	pgFlagsSet   bool
	tlsSet       bool
	// Issuer is announced by the discovery documents; "" for the base URL.
	Issuer string
	// TLSCert and TLSKey serve HTTPS; both or neither.
	TLSCert, TLSKey string
	// Metrics serves /metrics.
	Metrics bool
}

func newServeCmd(f *Factory) *cobra.Command {
	o := &serveOptions{IO: f.IO, Now: f.Now, Factory: f}
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the keyring's public JWKS over HTTP, as Supabase Auth does",
		Long: `Publish the public keys that verify keyctl's tokens, over HTTP.

The JWKS is served at /.well-known/jwks.json and at
/auth/v1/.well-known/jwks.json, the path Supabase's client libraries use, so
a backend calling supabase.auth.getClaims() with its Supabase URL set to
keyctl's address verifies keyctl's tokens. Responses carry
Cache-Control: public, max-age=600 (--max-age) and a strong ETag; a request
with a matching If-None-Match gets 304 Not Modified. OpenID Connect
discovery documents are at /.well-known/openid-configuration and
/auth/v1/.well-known/openid-configuration (issuer: --issuer, else the served
base URL). /healthz reports the state of the key source; /readyz answers 503
until a key set is loaded; /metrics (with --metrics) speaks Prometheus.

The keys are the keyring's published keys (standby, in use, previously used),
or with --keys-file the keys of a Supabase signing_keys.json. Only public
members are ever served: never a private key, never a shared secret.

Requests are answered from memory. The source file is watched (inotify,
plus a stat every second): a rotation made with keyctl in another terminal
is served within milliseconds, with no restart; SIGHUP checks it at once.
If the file becomes unreadable or invalid, the last good set stays published
and the error is logged.

--tls-cert and --tls-key serve HTTPS (TLS 1.2 or later); the pair is
re-read when the files change. --addr 127.0.0.1:0 picks a free port; the
address is printed on stderr. Request logs go to stderr (successful requests
sampled past 100 a second); SIGINT or SIGTERM stops the server, giving
requests in flight 5 seconds.`,
		Example: `  keyctl serve
  keyctl serve --keys-file supabase/signing_keys.json
  keyctl serve --addr 127.0.0.1:0 --max-age 1m --log-format json
  keyctl serve --addr 0.0.0.0:443 --tls-cert cert.pem --tls-key key.pem --issuer https://auth.example.com --metrics`,
		Args: noArgs(nil),
		RunE: func(c *cobra.Command, args []string) error {
			o.pgFlagsSet = c.Flags().Changed("poll-interval") || c.Flags().Changed("no-listen")
			o.tlsSet = c.Flags().Changed("tls-cert") || c.Flags().Changed("tls-key")
			return runServe(c.Context(), o)
		},
	}
	addKeyringFlag(c, f)
	fl := c.Flags()
	fl.StringVar(&o.Addr, "addr", defaultServeAddr, "address to listen on, HOST:PORT (port 0 picks a free one)")
	fl.DurationVar(&o.MaxAge, "max-age", serve.DefaultMaxAge, "how long clients may cache the JWKS (Cache-Control max-age), whole seconds")
	fl.StringVar(&o.KeysFile, "keys-file", "", "serve the public keys of this Supabase signing_keys.json instead of the keyring")
	fl.StringVar(&o.LogFormat, "log-format", "text", "request log format on stderr: text or json")
	fl.DurationVar(&o.PollInterval, "poll-interval", pgstore.DefaultPollInterval, "a keyring in PostgreSQL: how often to check its version besides LISTEN/NOTIFY")
	fl.BoolVar(&o.NoListen, "no-listen", false, "a keyring in PostgreSQL: poll only, no LISTEN (for pgbouncer in transaction mode)")
	fl.IntVar(&o.MaxHeaderBytes, "max-header-bytes", serve.MaxHeaderBytes, "largest request head served, in bytes (request line and headers); a larger one gets 431")
	fl.StringVar(&o.Issuer, "issuer", "", "issuer announced by the discovery documents (default the served base URL)")
	fl.StringVar(&o.TLSCert, "tls-cert", "", "serve HTTPS with this PEM certificate chain (with --tls-key)")
	fl.StringVar(&o.TLSKey, "tls-key", "", "the PEM private key of --tls-cert, mode 0600")
	fl.BoolVar(&o.Metrics, "metrics", false, "serve Prometheus metrics at /metrics")
	config.Bind(fl, "addr", "serve_addr")
	c.MarkFlagsMutuallyExclusive("keyring", "keys-file")
	c.MarkFlagsRequiredTogether("tls-cert", "tls-key")
	_ = c.RegisterFlagCompletionFunc("log-format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// checkIssuer refuses an --issuer ("" is none) that verifiers could not
// match or should not see: clients compare the issuer string exactly, and
// every discovery document announces it.
func checkIssuer(issuer string) error {
	if issuer == "" {
		return nil
	}
	u, err := url.Parse(issuer)
	if err == nil && u.User != nil {
		// Checked first, so that no message repeats the password.
		clean := *u
		clean.User = nil
		return withHint(&UsageError{Err: fmt.Errorf("invalid --issuer %q: want a URL with no user name or password", u.Redacted())},
			"the issuer is public (the discovery documents announce it): give it without credentials, for example --issuer %s", clean.String())
	}
	// Any "?" or "#" in a URL that parses starts its query or fragment, even
	// an empty one, which url.Parse records only as ForceQuery or not at all.
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(issuer, "?#") {
		return withHint(&UsageError{Err: fmt.Errorf("invalid --issuer %q: want an http(s) URL with no query or fragment", issuer)},
			"give the URL verifiers know this server by, for example --issuer https://auth.example.com")
	}
	return nil
}

func runServe(ctx context.Context, o *serveOptions) error {
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return withHint(&UsageError{Err: fmt.Errorf("invalid --addr %q: %v", o.Addr, err)}, "give HOST:PORT, for example --addr %s (port 0 picks a free port)", defaultServeAddr)
	}
	if o.MaxAge < 0 || o.MaxAge%time.Second != 0 {
		return withHint(&UsageError{Err: fmt.Errorf("invalid --max-age %s: want a whole number of seconds, 0 or more", o.MaxAge)}, "for example --max-age 10m (Supabase's value) or --max-age 0s")
	}
	if o.MaxHeaderBytes < serve.MinHeaderLimit || o.MaxHeaderBytes > serve.MaxHeaderLimit {
		return withHint(&UsageError{Err: fmt.Errorf("invalid --max-header-bytes %d: want %d to %d", o.MaxHeaderBytes, serve.MinHeaderLimit, serve.MaxHeaderLimit)},
			"the default is %d (8 KiB); Go's HTTP server cannot enforce less than %d", serve.MaxHeaderBytes, serve.MinHeaderLimit)
	}
	var logger *slog.Logger
	switch o.LogFormat {
	case "text":
		logger = slog.New(slog.NewTextHandler(o.IO.ErrOut, nil))
	case "json":
		logger = slog.New(slog.NewJSONHandler(o.IO.ErrOut, nil))
	default:
		return withHint(&UsageError{Err: fmt.Errorf("invalid --log-format %q", o.LogFormat)}, "use --log-format text or --log-format json")
	}

	if err := checkIssuer(o.Issuer); err != nil {
		return err
	}
	if o.tlsSet && (o.TLSCert == "" || o.TLSKey == "") {
		// An unset $CERT must not silently downgrade to plain HTTP.
		return withHint(&UsageError{Err: errors.New("--tls-cert and --tls-key must both name files")}, "give the certificate chain and its private key, or leave both out for plain HTTP")
	}
	var certs *serve.CertReloader
	if o.TLSCert != "" {
		var err error
		certs, err = serve.NewCertReloader(o.TLSCert, o.TLSKey, func(err error) {
			if err != nil {
				logger.Error("cannot reload the TLS certificate; serving the last good one", "cert", o.TLSCert, "key", o.TLSKey, "err", err.Error())
			} else {
				logger.Info("TLS certificate reloaded", "cert", o.TLSCert)
			}
		})
		if err != nil {
			var hinted interface{ Hint() string }
			if errors.As(err, &hinted) {
				return err
			}
			return withHint(fmt.Errorf("load TLS certificate: %w", err), "give a PEM certificate chain with --tls-cert and its private key with --tls-key")
		}
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var h *serve.Handler
	var path, source string
	if db, err := serveDatabase(o); err != nil {
		return err
	} else if db != nil {
		if h, err = serveFromDatabase(ctx, o, db, logger); err != nil {
			return err
		}
		path, source = db.Location(), "keyring"
	} else {
		var load func(string, []byte, fs.FileInfo) (*jwk.Set, error)
		path, load, source, err = serveSource(o)
		if err != nil {
			return err
		}
		// The source decides which keys verifiers trust: another user's
		// file, or one in a directory others can write, is refused like
		// the keyring.
		h, err = serve.New(serve.Options{Path: path, Load: load, Policy: safefile.Trusted(source), Source: source,
			MaxAge: o.MaxAge, Logger: logger, Now: o.Now, Issuer: o.Issuer})
		if err != nil {
			return serveLoadError(o, source, path, err)
		}
		h.Watch(ctx, serve.DefaultPollInterval)
	}
	if o.Metrics {
		h.EnableMetrics()
	}

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return withHint(fmt.Errorf("cannot listen on %s: %w", o.Addr, innermost(err)), "pick another address with --addr HOST:PORT (port 0 picks a free one)")
	}
	// SIGHUP: check the source (and the certificate pair) now. Caught
	// before the URL line is printed, so a script that signals as soon as
	// it reads the URL never meets SIGHUP's default action (exit).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	scheme := "http"
	if certs != nil {
		scheme = "https"
	}
	base := scheme + "://" + boundAddr(o.Addr, ln.Addr())
	h.SetBaseURL(base)
	snap := h.Current()
	// The first line is the one scripts read: the URL, nothing else after it.
	o.IO.Infof("serving JWKS on %s%s", base, serve.JWKSPath)
	o.IO.Infof("publishing %d key(s) from %s %s; Supabase clients: use %s as the Supabase URL", snap.Keys, source, path, base)
	switch {
	case snap.Keys > 0:
	case snap.Skipped > 0:
		o.IO.Warnf("the JWKS is empty: shared secrets (HS256) are never published")
		o.IO.Hintf("add an asymmetric key (ES256 recommended) for verifiers to fetch")
	default:
		o.IO.Warnf("the JWKS is empty: the %s %s holds no keys", source, path)
		o.IO.Hintf("add an asymmetric key (ES256 recommended) for verifiers to fetch")
	}
	if certs == nil {
		if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
			if tcp.IP.IsUnspecified() {
				o.IO.Warnf("listening on every interface over plain HTTP: anyone who can reach this machine can fetch the JWKS, unencrypted")
			} else {
				o.IO.Warnf("listening on %s, not a loopback address, over plain HTTP: the JWKS travels unencrypted", tcp.IP)
			}
			o.IO.Hintf("serve HTTPS with --tls-cert FILE --tls-key FILE, or bind 127.0.0.1 behind a TLS proxy")
		}
	}

	srv := serve.NewServer(h, logger, o.Now)
	if err := serve.SetHeaderLimit(srv, o.MaxHeaderBytes); err != nil {
		return err // checked above
	}
	if certs != nil {
		srv.TLSConfig = certs.TLSConfig()
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				logger.Info("SIGHUP: reloading", "source", source, "path", path)
				h.Reload()
				if certs != nil {
					certs.Reload()
				}
			}
		}
	}()
	err = serve.Serve(ctx, srv, ln, serve.ShutdownGrace)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	o.IO.Infof("stopped")
	return nil
}

// serveDatabase returns the PostgreSQL store when the keyring to serve is
// in a database, nil when it is a file (or --keys-file is given).
func serveDatabase(o *serveOptions) (*pgstore.Store, error) {
	pgFlags := o.pgFlagsSet
	if o.KeysFile != "" {
		if pgFlags {
			return nil, &UsageError{Err: errors.New("--poll-interval and --no-listen apply to a keyring in PostgreSQL, not to --keys-file")}
		}
		return nil, nil
	}
	loc, err := keyringPath(o.Factory)
	if err != nil {
		return nil, err
	}
	if !keystore.IsDatabase(loc) {
		if pgFlags {
			return nil, &UsageError{Err: errors.New("--poll-interval and --no-listen apply to a keyring in PostgreSQL (--keyring postgres://...)")}
		}
		return nil, nil
	}
	if o.PollInterval < 100*time.Millisecond {
		return nil, &UsageError{Err: fmt.Errorf("--poll-interval %s is too short (100ms at least)", o.PollInterval)}
	}
	s, err := openKeyring(o.Factory, "", 0)
	if err != nil {
		return nil, err
	}
	db, _ := keystore.Database(s)
	return db, nil
}

// serveFromDatabase loads the published keys once (it must work: a server
// with nothing to publish helps nobody), then watches the keyring: every
// NOTIFY, every changed version seen by the poller and every reconnect
// pushes the new set; a failure keeps the last good set and makes
// /healthz say stale. No request queries the database.
func serveFromDatabase(ctx context.Context, o *serveOptions, db *pgstore.Store, logger *slog.Logger) (*serve.Handler, error) {
	conn, err := db.Connect(ctx)
	if err != nil {
		return nil, keyringError(db.Location(), err)
	}
	first, err := db.LoadPublished(ctx, conn)
	conn.Close(context.Background())
	if err != nil {
		return nil, keyringError(db.Location(), err)
	}
	h, err := serve.NewPushed(serve.Options{Path: db.Location(), Source: "keyring", MaxAge: o.MaxAge, Issuer: o.Issuer, Logger: logger, Now: o.Now}, first.Set)
	if err != nil {
		return nil, err
	}
	go db.Watch(ctx, pgstore.WatchOptions{Poll: o.PollInterval, NoListen: o.NoListen},
		func(p *pgstore.Published) { h.Push(p.Set) },
		func(err error) { h.PushFailure(err) })
	return h, nil
}

// serveSource picks the file to publish and how to parse it: --keys-file,
// else the keyring. serve reads the file itself (internal/serve), so that
// it never blocks and reads only when the file changed.
func serveSource(o *serveOptions) (path string, load func(string, []byte, fs.FileInfo) (*jwk.Set, error), source string, err error) {
	if o.KeysFile != "" {
		return o.KeysFile, parseKeysFilePublicSet, "keys file", nil
	}
	path, err = keyringPath(o.Factory)
	if errors.Is(err, errNoKeyring) {
		return "", nil, "", withHint(errors.New("no keyring to serve"),
			"serve a Supabase keys file with --keys-file supabase/signing_keys.json, or create a keyring with \"keyctl keys create\"")
	}
	if err != nil {
		return "", nil, "", err
	}
	return path, parseKeyringPublicSet, "keyring", nil
}

// parseKeysFilePublicSet reads a Supabase signing_keys.json's bytes and
// returns the public form of its asymmetric keys.
func parseKeysFilePublicSet(path string, data []byte, _ fs.FileInfo) (*jwk.Set, error) {
	keys, err := keysfile.Parse(data)
	if err != nil {
		return nil, err
	}
	// Private keys and shared secrets go to the handler, which publishes
	// the public form of the asymmetric ones and counts the secrets.
	return &jwk.Set{Keys: keys}, nil
}

// parseKeyringPublicSet is loadKeyringPublicSet for bytes serve has read:
// the same refusal of a keyring others can read, the same document checks.
func parseKeyringPublicSet(path string, data []byte, fi fs.FileInfo) (*jwk.Set, error) {
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, keyringError(path, &store.PermissionError{Path: path, Mode: fi.Mode()})
	}
	file, err := store.Parse(path, data, store.Options{})
	if err != nil {
		return nil, keyringError(path, err)
	}
	set, err := file.Keyring.PublicJWKS()
	if err != nil {
		return nil, keyringError(path, &store.CorruptError{Path: path, Err: err})
	}
	// A stand-in for each shared secret (never its bytes, which may be
	// encrypted): the handler counts them and never publishes them.
	for _, e := range file.Keyring.TrustedKeys() {
		if e.Symmetric() {
			set.Keys = append(set.Keys, &jwk.Key{KID: e.KID, Alg: e.Alg, Material: []byte{}})
		}
	}
	return set, nil
}

func serveLoadError(o *serveOptions, source, path string, err error) error {
	var hinted interface{ Hint() string }
	switch {
	case errors.As(err, &hinted):
		return err // safefile's refusals (a FIFO, another user's file) and the keyring's errors say what to do
	case errors.Is(err, keysfile.ErrNotFound), errors.Is(err, os.ErrNotExist) && source == "keys file":
		return withHint(fmt.Errorf("keys file %s not found", path), "create one with: keyctl gen signing-key --keys-file %s", path)
	case errors.Is(err, os.ErrNotExist) || errors.Is(err, errNoKeyring):
		return withHint(fmt.Errorf("no keyring at %s", path), "create a key with \"keyctl keys create\", or serve a Supabase keys file with --keys-file PATH")
	case source == "keys file":
		return withHint(fmt.Errorf("read keys file %s: %w", path, err), "a keys file is a JSON array of private JWKs, as \"keyctl gen signing-key --keys-file %s\" writes", path)
	}
	return fmt.Errorf("load %s %s: %w", source, path, err)
}

// boundAddr is the address the listener bound, as a URL host: an
// unspecified host stays unspecified, as asked (0.0.0.0 or [::]; Go binds
// both families for either), so the line says what was bound, not what a
// client on this machine would dial.
func boundAddr(asked string, a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "0.0.0.0"
		if h, _, err := net.SplitHostPort(asked); err == nil {
			if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
				host = h
			}
		}
	}
	return net.JoinHostPort(host, fmt.Sprint(tcp.Port))
}

// innermost drops the Go wrappers of a network error ("listen tcp ADDR:
// bind: ..."), keeping the system's words ("address already in use").
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
