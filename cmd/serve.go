package cmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
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
with a matching If-None-Match gets 304 Not Modified. /healthz reports the
state of the key source.

The keys are the keyring's published keys (standby, in use, previously used),
or with --keys-file the keys of a Supabase signing_keys.json. Only public
members are ever served: never a private key, never a shared secret.

The source file is checked on every request: a rotation made with keyctl in
another terminal is served on the next request, with no restart. If the file
becomes unreadable or invalid, the last good set stays published and the
error is logged.

--addr 127.0.0.1:0 picks a free port; the address is printed on stderr.
Request logs go to stderr; SIGINT or SIGTERM stops the server gracefully.`,
		Example: `  keyctl serve
  keyctl serve --keys-file supabase/signing_keys.json
  keyctl serve --addr 127.0.0.1:0 --max-age 1m --log-format json`,
		Args: noArgs(nil),
		RunE: func(c *cobra.Command, args []string) error {
			o.pgFlagsSet = c.Flags().Changed("poll-interval") || c.Flags().Changed("no-listen")
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
	config.Bind(fl, "addr", "serve_addr")
	c.MarkFlagsMutuallyExclusive("keyring", "keys-file")
	_ = c.RegisterFlagCompletionFunc("log-format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return c
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
			MaxAge: o.MaxAge, Logger: logger, Now: o.Now})
		if err != nil {
			return serveLoadError(o, source, path, err)
		}
	}

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return withHint(fmt.Errorf("cannot listen on %s: %w", o.Addr, innermost(err)), "pick another address with --addr HOST:PORT (port 0 picks a free one)")
	}
	base := "http://" + displayAddr(ln.Addr())
	snap := h.Current()
	// The first line is the one scripts read: the URL, nothing else after it.
	o.IO.Infof("serving JWKS on %s%s", base, serve.JWKSPath)
	o.IO.Infof("publishing %d key(s) from %s %s; Supabase clients: use %s as the Supabase URL", snap.Keys, source, path, base)
	if snap.Keys == 0 {
		o.IO.Warnf("the JWKS is empty: shared secrets (HS256) are never published")
		o.IO.Hintf("add an asymmetric key (ES256 recommended) for verifiers to fetch")
	}

	srv := serve.NewServer(h, logger, o.Now)
	if err := serve.SetHeaderLimit(srv, o.MaxHeaderBytes); err != nil {
		return err // checked above
	}
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
	h, err := serve.NewPushed(serve.Options{Path: db.Location(), Source: "keyring", MaxAge: o.MaxAge, Logger: logger, Now: o.Now}, first.Set)
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
	return jwk.PublicSet(keys)
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

// displayAddr turns a listener address into one a client can use: an
// unspecified host (all interfaces) is shown as the loopback address.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		if ip.To4() == nil && ip != nil {
			ip = net.IPv6loopback
		} else {
			ip = net.IPv4(127, 0, 0, 1)
		}
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
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
