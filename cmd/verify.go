package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"
	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/bulk"
	"github.com/keyctl/keyctl/internal/config"
	"github.com/keyctl/keyctl/internal/jwks"
	"github.com/keyctl/keyctl/internal/keysfile"
	"github.com/keyctl/keyctl/internal/safefile"
	"github.com/keyctl/keyctl/internal/ui"
	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/jwt"
)

type verifyOptions struct {
	IO      *ui.IO
	Now     func() time.Time
	Factory *Factory

	Args     []string
	JWKS     string
	Key      string
	KeysFile string
	KID      string
	Private  bool
	Aud      string
	Iss      string
	Role     string
	Sub      string
	Require  []string
	Leeway   time.Duration
	At       string
	Algs     []string
	CacheTTL time.Duration
	NoCache  bool
	EachLine bool
	Workers  int
	Output   string

	// HTTPClient, when set, fetches --jwks URLs (tests).
	HTTPClient *http.Client
	// CAFile is a PEM file of the CAs trusted for an https --jwks URL.
	CAFile string

	// expectSet names the expectation flags given on the command line
	// (--aud, --iss, --role, --sub), even with an empty value.
	expectSet []string
}

func newVerifyCmd(f *Factory) *cobra.Command {
	o := &verifyOptions{IO: f.IO, Now: f.Now, Factory: f}
	c := &cobra.Command{
		Use:   "verify [TOKEN | -]",
		Short: "Verify a token strictly against a JWKS, a key or the keyring",
		Long: `Verify a JWT (compact JWS) and print its claims.

The token is the argument, or stdin with "-" (or when stdin is not a
terminal). On success the verified claims go to stdout: one compact JSON line
when piped, indented JSON with -o json, a readable summary on a terminal
(-o table) or as tab-separated fields (-o text).

On failure nothing goes to stdout: every failed check is listed on stderr and
the exit code is 3. Exit code 1 means the token could not be checked (the
JWKS URL is down, a key file is unreadable), 2 a command-line mistake.

Keys, the first that applies:
  --key FILE     one JWK or PEM key (a private key or secret verifies with
                 its public half); a token without a kid is fine
  --keys-file F  a Supabase signing_keys.json: every key in it, by its
                 public half (a shared secret as itself)
  --jwks FILE    a JWK Set file: public keys only; keys keyctl cannot use
                 (another curve, algorithm or use) are skipped with a
                 warning. --private accepts a stack's services JWKS, which
                 holds the legacy HS256 secret (it verifies kid-less tokens)
  --jwks URL     a JWK Set over https (http only for 127.0.0.1, localhost,
                 [::1]), cached on disk for --cache-ttl, honouring the
                 server's Cache-Control and ETag; a kid missing from the
                 cached set triggers one refetch, at most once per 30s
  the keyring    standby, in-use and previously used keys, shared secrets and
                 the legacy secret (which verifies kid-less HS256 tokens)

Checks, all strict and none optional: the token is at most 16 KiB in three
canonical base64url segments; no alg "none", no crit, no key material in the
header (jwk, jku, x5u, x5c), typ JWT when present, no duplicate members; the
kid names a trusted key and the alg is that key's own; the signature
verifies (ES256 as exactly 64 bytes r||s); exp is present and in the future,
nbf and iat are not in the future (--leeway forgives clock skew); sub and
role, when present, are non-empty strings. --aud, --iss, --role, --sub and
--require add expectations; --alg narrows the algorithms; --kid narrows the
keys to one (the key for tokens without a kid; it names a kid-less --key). See
docs/verification.md for every check and its reason.

--each-line reads one token per line from stdin and prints one JSON result
per line in order ({"line":N,"valid":true,"claims":{...}} or
{"line":N,"valid":false,"reasons":[...]}), using every core (--workers);
the exit code is 3 if any token failed.`,
		Example: `  keyctl verify "$TOKEN"
  keyctl verify --jwks http://127.0.0.1:54321/auth/v1/.well-known/jwks.json --aud authenticated "$TOKEN"
  keyctl verify --key key.json --role service_role - < token.txt
  keyctl verify --jwks jwks.json --at 2026-01-01T00:00:00Z "$TOKEN"
  keyctl verify --jwks jwks.json --each-line < tokens.txt | jq -c 'select(.valid | not)'`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return withHint(&UsageError{Err: fmt.Errorf("verify takes one token (got %d arguments)", len(args))},
					"verify several tokens with --each-line, one per line on stdin")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			o.Args = args
			for _, name := range []string{"aud", "iss", "role", "sub", "alg", "require", "at"} {
				if c.Flags().Changed(name) {
					o.expectSet = append(o.expectSet, name)
				}
			}
			return runVerify(c.Context(), o)
		},
	}
	fl := c.Flags()
	fl.StringVar(&o.JWKS, "jwks", "", "JWK Set to verify with: a FILE, or an https URL (http for loopback hosts)")
	fl.StringVar(&o.Key, "key", "", "one key to verify with: a JWK or PEM file")
	fl.StringVar(&o.KeysFile, "keys-file", "", "verify with the keys of a Supabase signing_keys.json (their public halves)")
	fl.StringVar(&o.KID, "kid", "", "verify with this key of the set only (for tokens without a kid)")
	fl.BoolVar(&o.Private, "private", false, "with --jwks FILE: the set is private (a stack's services JWKS with the legacy secret)")
	fl.StringVar(&o.Aud, "aud", "", "require this audience in the aud claim")
	fl.StringVar(&o.Iss, "iss", "", "require this issuer (iss claim)")
	fl.StringVar(&o.Role, "role", "", "require this role claim")
	fl.StringVar(&o.Sub, "sub", "", "require this subject (sub claim)")
	fl.StringSliceVar(&o.Require, "require", nil, "require this claim to be present, beyond exp (repeatable)")
	fl.DurationVar(&o.Leeway, "leeway", 0, "clock skew forgiven on exp, nbf and iat")
	fl.StringVar(&o.At, "at", "", "check the time claims at this instant: RFC 3339 or Unix seconds (default now)")
	fl.StringSliceVar(&o.Algs, "alg", nil, "allow only these algorithms: ES256, RS256, EdDSA, HS256 (repeatable or comma-separated)")
	fl.StringVar(&o.CAFile, "ca", "", "PEM file of the CA certificates to trust for an https --jwks URL (a private CA), instead of the system's")
	fl.DurationVar(&o.CacheTTL, "cache-ttl", jwks.DefaultTTL, "how long a JWKS fetched from a URL is used before asking the server again")
	fl.BoolVar(&o.NoCache, "no-cache", false, "fetch a JWKS URL afresh, without reading or writing the cache")
	fl.BoolVar(&o.EachLine, "each-line", false, "verify one token per line of stdin; one JSON result per line")
	fl.IntVar(&o.Workers, "workers", 0, "tokens verified in parallel with --each-line (default: every core)")
	fl.StringVarP(&o.Output, "output", "o", "", "output format: json, table or text (default compact JSON when piped, table on a terminal)")
	addKeyringFlag(c, f)
	config.Bind(fl, "cache-ttl", "cache_ttl")
	c.MarkFlagsMutuallyExclusive("jwks", "key", "keys-file", "keyring")
	_ = c.RegisterFlagCompletionFunc("output", completeOutputFormats)
	_ = c.RegisterFlagCompletionFunc("alg", completeAlgorithms)
	return c
}

func runVerify(ctx context.Context, o *verifyOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	format, err := o.format()
	if err != nil {
		return err
	}
	policy, err := o.policy()
	if err != nil {
		return err
	}
	if o.EachLine {
		if len(o.Args) > 0 {
			return withHint(&UsageError{Err: errors.New("--each-line reads the tokens from stdin and takes no argument")},
				"pipe the tokens in: keyctl verify --each-line < tokens.txt")
		}
		if o.Workers < 0 {
			return &UsageError{Err: fmt.Errorf("--workers must not be negative, not %d", o.Workers)}
		}
		if o.Workers > maxVerifyWorkers {
			// Each worker holds up to two tokens and a goroutine; an
			// unbounded count would allocate before any token is read.
			return withHint(&UsageError{Err: fmt.Errorf("--workers must be at most %d, not %d", maxVerifyWorkers, o.Workers)},
				"leave --workers out to use every core")
		}
		if o.Key == "-" {
			return &UsageError{Err: errors.New("--key - and --each-line both want stdin")}
		}
		if o.At == "" {
			// A stream can run for hours: each token's time claims are
			// checked when it arrives, not when the run began.
			policy.Now, policy.Clock = time.Time{}, o.Now
		}
	}
	var tok []byte
	var tooLong *tokenTooLongError
	if !o.EachLine {
		if o.Key == "-" && (len(o.Args) == 0 || o.Args[0] == "-") {
			return &UsageError{Err: errors.New("--key - and the token cannot both come from stdin")}
		}
		// A token over the verifier's limit is rejected (exit 3) like
		// one given as the argument, without reading the rest of it.
		tok, err = readTokenArg(o.IO, o.Args, jwt.MaxTokenBytes)
		if !errors.As(err, &tooLong) && err != nil {
			return err
		}
	}
	src, err := o.keySource(ctx, policy)
	if err != nil {
		return err
	}
	if o.EachLine {
		return runVerifyEachLine(ctx, o, src)
	}
	var res *jwt.Verified
	if tooLong != nil {
		err = &jwt.ValidationError{Failures: []jwt.Failure{{Check: jwt.CheckSize,
			Reason: fmt.Sprintf("the token on stdin is over the %d-byte limit", jwt.MaxTokenBytes)}}}
	} else {
		res, err = src.verify(ctx, tok)
	}
	var ve *jwt.ValidationError
	if errors.As(err, &ve) {
		for _, r := range ve.Reasons() {
			o.IO.Infof("rejected: %s", displayText(r))
		}
		if _, fix := jwt.PasteProblem(tok); fix != "" && tooLong == nil {
			o.IO.Hintf("%s", fix)
		} else if ve.Has(jwt.CheckKIDMissing) && o.KID == "" {
			o.IO.Hintf("pick the key with --kid KID (kids here: %s), or pass that one key with --key FILE", src.kids)
		} else if emptyRole(ve) {
			o.IO.Hintf("Supabase Auth issues \"role\":\"\" when started without GOTRUE_JWT_DEFAULT_GROUP_NAME: set it to authenticated")
		}
		return &ExitError{Code: ExitRejected, Err: ve, Silent: true}
	}
	var locked *jwt.KeyUnavailableError
	if errors.As(err, &locked) {
		return withHint(err, "set KEYCTL_PASSPHRASE or KEYCTL_PASSPHRASE_FILE to unlock the keyring's shared secrets")
	}
	if err != nil {
		return err
	}
	return printVerified(o.IO, res, format, policy.Now, src.label)
}

// format resolves -o: "" is compact JSON when piped (one line, for jq and
// scripts) and the readable summary on a terminal.
func (o *verifyOptions) format() (string, error) {
	f := strings.ToLower(strings.TrimSpace(o.Output))
	if f == "" {
		if o.EachLine || !o.IO.IsStdoutTTY() {
			return "", nil
		}
		return ui.FormatTable, nil
	}
	if _, err := o.IO.ResolveFormat(f); err != nil {
		return "", withHint(&UsageError{Err: fmt.Errorf("-o: %w", err)}, "-o json prints the claims as indented JSON")
	}
	if o.EachLine && f != ui.FormatJSON {
		return "", &UsageError{Err: fmt.Errorf("--each-line prints JSON lines; -o %s does not apply", f)}
	}
	return f, nil
}

// policy turns the flags into a jwt.Policy; every mistake is a usage error.
func (o *verifyOptions) policy() (jwt.Policy, error) {
	p := jwt.Policy{Audience: o.Aud, Issuer: o.Iss, Role: o.Role, Subject: o.Sub, Leeway: o.Leeway}
	values := map[string]string{"aud": o.Aud, "iss": o.Iss, "role": o.Role, "sub": o.Sub, "at": o.At,
		// pflag reads --alg "" and --require "" as no values at all.
		"alg": strings.Join(o.Algs, ","), "require": strings.Join(o.Require, ",")}
	hints := map[string]string{
		"alg":     "leave --alg out to accept every algorithm keyctl verifies",
		"require": "leave --require out to require no claim beyond exp",
		"at":      "leave --at out to check the time claims now",
	}
	for _, name := range o.expectSet {
		if values[name] == "" {
			// --aud "$AUD" with AUD unset would otherwise drop the check
			// without a word, and accept tokens for any audience.
			hint := hints[name]
			if hint == "" {
				hint = fmt.Sprintf("leave --%s out to accept any %s", name, name)
			}
			return p, withHint(&UsageError{Err: fmt.Errorf("--%s needs a value: an empty one would check nothing", name)}, "%s", hint)
		}
	}
	if o.Leeway < 0 {
		return p, &UsageError{Err: fmt.Errorf("--leeway must not be negative, not %s", o.Leeway)}
	}
	if o.CacheTTL < 0 {
		return p, &UsageError{Err: fmt.Errorf("--cache-ttl must not be negative, not %s", o.CacheTTL)}
	}
	for _, c := range o.Require {
		c = strings.TrimSpace(c)
		if c == "" {
			return p, &UsageError{Err: errors.New("--require needs a claim name")}
		}
		p.Require = append(p.Require, c)
	}
	for _, s := range o.Algs {
		if strings.EqualFold(strings.TrimSpace(s), "none") {
			return p, &UsageError{Err: errors.New(`--alg none: unsigned tokens are never accepted`)}
		}
		a, err := jwk.ParseAlgorithm(strings.TrimSpace(s))
		if err != nil {
			return p, &UsageError{Err: fmt.Errorf("--alg: %w", err)}
		}
		p.Algorithms = append(p.Algorithms, a)
	}
	p.Now = o.Now()
	if o.At != "" {
		t, err := parseTime(o.At)
		if err != nil {
			return p, withHint(&UsageError{Err: fmt.Errorf("--at: %w", err)}, "for example --at 2026-01-02T15:04:05Z or --at 1767366245")
		}
		p.Now = t
	}
	return p, nil
}

// readTokenArg reads the token from the argument, or from stdin for "-" or
// when there is no argument and stdin is not a terminal. One trailing line
// ending, LF or CRLF (from echo or a file), is dropped; any other white
// space, a lone CR included, stays for the verifier to refuse.
func readTokenArg(s *ui.IO, args []string, limit int) ([]byte, error) {
	if len(args) == 1 && args[0] != "-" {
		return []byte(args[0]), nil
	}
	if len(args) == 0 && s.IsStdinTTY() {
		return nil, withHint(&UsageError{Err: errors.New("no token given")}, `pass the token as the argument, or "-" to read it from stdin`)
	}
	data, err := io.ReadAll(io.LimitReader(s.In, int64(limit)+3))
	if err != nil {
		return nil, fmt.Errorf("read the token from stdin: %w", err)
	}
	data = trimLineEnding(data)
	if len(data) > limit {
		return nil, &tokenTooLongError{limit: limit}
	}
	if len(data) == 0 {
		return nil, withHint(errors.New("no token on stdin"), "pipe one token in (keyctl verify --each-line checks one per line)")
	}
	return data, nil
}

// tokenTooLongError is a token on stdin over the limit read.
type tokenTooLongError struct{ limit int }

func (e *tokenTooLongError) Error() string {
	return fmt.Sprintf("the token on stdin is over %d bytes", e.limit)
}

// maxVerifyWorkers bounds --workers: far more than any machine has cores,
// small enough that the tokens in flight stay a few megabytes.
const maxVerifyWorkers = bulk.MaxWorkers

// trimLineEnding drops one trailing LF or CRLF. A CR is dropped only as
// part of a CRLF: alone it ends no line, so it is part of the token and
// the verifier names it, rather than a token with a stray CR verifying.
func trimLineEnding(b []byte) []byte {
	if line, ok := bytes.CutSuffix(b, []byte("\r\n")); ok {
		return line
	}
	return bytes.TrimSuffix(b, []byte("\n"))
}

// verifySource is the verifier in use and, for a JWKS URL, the one refetch
// an unknown kid may trigger.
type verifySource struct {
	label   string // where the keys came from, for messages
	kids    string // the trusted kids, for hints
	policy  jwt.Policy
	current atomic.Pointer[jwt.Verifier]
	// single is true for the one key --key names, which verifies tokens
	// whatever their kid when it has none (jwt.NewSingleKeySet); false
	// for sets (a JWKS file or URL, a keys file, the keyring), however
	// few keys they hold.
	single bool

	// refresh refetches the keys; nil unless they came from a URL.
	refresh    func(ctx context.Context) ([]jwt.TrustedKey, error)
	mu         sync.Mutex
	tried      bool
	refreshErr error
	note       func(format string, args ...any)
}

func newVerifySource(label string, keys []jwt.TrustedKey, single bool, p jwt.Policy) (*verifySource, error) {
	s := &verifySource{label: label, policy: p, kids: kidList(keys), single: single}
	if err := s.install(keys); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *verifySource) install(keys []jwt.TrustedKey) error {
	var ks *jwt.KeySet
	var err error
	if s.single && len(keys) == 1 {
		ks, err = jwt.NewSingleKeySet(keys[0])
	} else {
		ks, err = jwt.NewKeySet(keys)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", s.label, err)
	}
	v, err := jwt.NewVerifier(ks, s.policy)
	if err != nil {
		return &UsageError{Err: err}
	}
	s.current.Store(v)
	return nil
}

// verify checks tok; when its kid is unknown and the keys came from a URL,
// the set is fetched again once (per run, and per 30 s across runs) and
// the token checked against the new set.
func (s *verifySource) verify(ctx context.Context, tok []byte) (*jwt.Verified, error) {
	v := s.current.Load()
	res, err := v.VerifyBytes(tok)
	var ve *jwt.ValidationError
	if err == nil || s.refresh == nil || !errors.As(err, &ve) || ve.UnknownKID == "" {
		return res, err
	}
	nv, rerr := s.refreshOnce(ctx, ve.UnknownKID)
	if rerr != nil {
		return nil, rerr
	}
	if nv == v {
		return nil, err
	}
	return nv.VerifyBytes(tok)
}

func (s *verifySource) refreshOnce(ctx context.Context, kid string) (*jwt.Verifier, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tried {
		s.tried = true
		keys, err := s.refresh(ctx)
		var rl *jwks.RateLimitError
		switch {
		case errors.As(err, &rl):
			s.note("kid %s is not in the JWKS, which was fetched %s ago: not fetching it again within %s",
				jwt.Quote(kid), ui.Duration(rl.Interval-rl.Wait), ui.Duration(rl.Interval))
		case err != nil:
			s.refreshErr = withHint(fmt.Errorf("kid %s is not in the cached JWKS and fetching it again failed: %w", jwt.Quote(kid), err),
				"try again when the server is back; exit code 1 means the token was not checked")
		default:
			s.refreshErr = s.install(keys)
		}
	}
	return s.current.Load(), s.refreshErr
}

// keySource loads the keys the flags name, narrowed to --kid.
func (o *verifyOptions) keySource(ctx context.Context, p jwt.Policy) (*verifySource, error) {
	if o.CAFile != "" && !strings.Contains(o.JWKS, "://") {
		return nil, withHint(&UsageError{Err: errors.New("--ca applies to an https --jwks URL only")},
			"leave --ca out, or verify against the URL: --jwks https://HOST/.well-known/jwks.json --ca FILE")
	}
	if o.Private && (o.JWKS == "" || strings.Contains(o.JWKS, "://")) {
		return nil, withHint(&UsageError{Err: errors.New("--private applies to --jwks FILE only")},
			"a JWKS that holds a secret is a local file, never fetched from a URL")
	}
	if o.KID != "" {
		if err := checkKIDFlag("--kid", o.KID); err != nil {
			return nil, err
		}
	}
	var label string
	var keys []jwt.TrustedKey
	var err error
	switch {
	case o.Key != "":
		label = "key " + o.Key
		keys, err = o.singleKey()
	case o.KeysFile != "":
		label = "keys file " + o.KeysFile
		keys, err = verifyKeysFile(o.KeysFile)
	case o.JWKS != "" && strings.Contains(o.JWKS, "://"):
		return o.remoteJWKS(ctx, p)
	case o.JWKS != "":
		label = "JWKS " + o.JWKS
		keys, err = jwksFile(o.IO, o.JWKS, o.Private)
	default:
		label = "the keyring"
		keys, err = keyringVerificationKeys(o.Factory)
		if errors.Is(err, errNoKeyring) {
			return nil, withHint(errors.New("no keys to verify with: pass --jwks FILE|URL, --key FILE or --keys-file FILE, or set up a keyring"),
				`for a Supabase project: keyctl verify --jwks https://PROJECT.supabase.co/auth/v1/.well-known/jwks.json TOKEN`)
		}
	}
	if err != nil {
		return nil, err
	}
	if keys, err = pickKID(label, keys, o.KID); err != nil {
		return nil, err
	}
	return newVerifySource(label, keys, o.Key != "", p)
}

// pickKID narrows keys to the one --kid names. A single key without a kid
// (a PEM file) takes the kid instead: --kid names it.
func pickKID(label string, keys []jwt.TrustedKey, kid string) ([]jwt.TrustedKey, error) {
	if kid == "" {
		return keys, nil
	}
	if len(keys) == 1 && keys[0].Key != nil && keys[0].Key.KID == "" {
		k := *keys[0].Key
		k.KID = kid
		tk := keys[0]
		tk.Key = &k
		return []jwt.TrustedKey{tk}, nil
	}
	for _, tk := range keys {
		if tk.Key != nil && tk.Key.KID == kid {
			return []jwt.TrustedKey{tk}, nil
		}
	}
	return nil, withHint(fmt.Errorf("%s has no key with kid %s", label, quoteKID(kid)), "the kids there: %s", kidList(keys))
}

// kidList names the kids of keys for a hint, at most ten of them.
func kidList(keys []jwt.TrustedKey) string {
	var kids []string
	for _, tk := range keys {
		if tk.Key != nil && tk.Key.KID != "" && tk.State != "revoked" && tk.State != "deleted" {
			kids = append(kids, shellQuote(tk.Key.KID))
		}
	}
	if len(kids) == 0 {
		return "none (no key has a kid)"
	}
	if len(kids) > 10 {
		return strings.Join(kids[:10], ", ") + fmt.Sprintf(", ... (%d in all)", len(kids))
	}
	return strings.Join(kids, ", ")
}

// singleKey reads --key: exactly one key, used through its public half
// (a shared secret stays a secret: HMAC has no public half).
func (o *verifyOptions) singleKey() ([]jwt.TrustedKey, error) {
	const hint = "--key takes one JWK or PEM key; for a set of keys use --jwks"
	keys, err := readKeys(o.Factory, o.Key, hint)
	if err != nil {
		return nil, err
	}
	if len(keys) != 1 {
		return nil, withHint(fmt.Errorf("key %s holds %d keys, not one", o.Key, len(keys)), hint)
	}
	k := keys[0]
	if !k.IsSymmetric() && k.IsPrivate() {
		if k, err = k.Public(); err != nil {
			return nil, err
		}
	}
	return []jwt.TrustedKey{{Key: k}}, nil
}

// emptyRole reports a token rejected for its empty role claim alone, as
// Supabase Auth issues it when misconfigured (a forged one fails more).
func emptyRole(ve *jwt.ValidationError) bool {
	return len(ve.Failures) == 1 && ve.Failures[0].Check == jwt.CheckRole && ve.Failures[0].Reason == "role is an empty string"
}

// verifyKeysFile reads a Supabase signing_keys.json for verifying: every
// key in it is trusted, as Auth trusts every key of GOTRUE_JWT_KEYS, by
// its public half (a shared secret as itself).
func verifyKeysFile(path string) ([]jwt.TrustedKey, error) {
	keys, err := keysfile.Read(path)
	if safefile.Refused(err) {
		return nil, err
	}
	if errors.Is(err, keysfile.ErrNotFound) {
		return nil, withHint(err, "pass the path of your project's signing_keys.json (supabase/signing_keys.json)")
	}
	if err != nil {
		return nil, withHint(fmt.Errorf("read keys file %s: %w", path, err), "%s", unpaddedHint(err, path, "--keys-file takes a JSON array of JWKs, as supabase/signing_keys.json holds"))
	}
	if len(keys) == 0 {
		return nil, withHint(fmt.Errorf("keys file %s holds no keys", path), "add one with: keyctl gen signing-key --keys-file %s", path)
	}
	out := make([]jwt.TrustedKey, 0, len(keys))
	for _, k := range keys {
		if !k.IsSymmetric() {
			pub, err := k.Public()
			if err != nil {
				return nil, fmt.Errorf("keys file %s: key %s: %w", path, quoteKID(k.KID), err)
			}
			k = pub
		}
		out = append(out, jwt.TrustedKey{Key: k})
	}
	return out, nil
}

// jwksFile reads a JWK Set file, checked by jwk.ParseSet: public keys
// only, unless private says the file is a stack's services JWKS. It is
// opened with safefile, which never blocks: a FIFO is refused, not waited
// on for a writer that may never come.
func jwksFile(s *ui.IO, path string, private bool) ([]jwt.TrustedKey, error) {
	file, _, err := safefile.Open(path, safefile.Policy{What: "JWKS"})
	var notRegular *safefile.NotRegularError
	if errors.As(err, &notRegular) {
		return nil, withHint(err, "give the path of a regular file: a JWK Set file, or an https URL")
	}
	if err != nil {
		return nil, withHint(fmt.Errorf("read JWKS %s: %w", path, pathless(err)), "--jwks takes a JWK Set file or an https URL")
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, jwk.MaxInputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read JWKS %s: %w", path, pathless(err))
	}
	if len(data) > jwk.MaxInputBytes {
		return nil, fmt.Errorf("JWKS %s is over the %d-byte limit", path, jwk.MaxInputBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, withHint(fmt.Errorf("JWKS %s is empty", path), `a JWK Set is {"keys":[...]}, as "keyctl jwks" prints it`)
	}
	set, err := jwk.ParseSet(data, jwk.ParseSetOptions{AllowPrivate: private})
	if err != nil {
		return nil, withHint(fmt.Errorf("JWKS %s: %w", path, err), "%s", jwksRefusalHint(err, path))
	}
	return trustedFromSet(s, path, set.Keys, set.SkippedKeys, private)
}

// jwksRefusalHint is the next step after ParseSet refused a set: one that
// fits the refusal.
func jwksRefusalHint(err error, path string) string {
	var pe *jwk.ParseError
	switch {
	case errors.Is(err, jwk.ErrSingleJWK):
		return "verify with one key: keyctl verify --key " + shellQuote(path)
	case errors.Is(err, jwk.ErrKeyArray):
		return "for a Supabase keys file use --keys-file " + shellQuote(path)
	case errors.Is(err, jwk.ErrPrivateInSet) && errors.As(err, &pe) && pe.Member == "k":
		return "a published JWKS never holds a shared secret; for a stack's services JWKS, which does, add --private"
	case errors.Is(err, jwk.ErrPrivateInSet):
		return `a JWKS for verifying holds public keys only, as "keyctl jwks" prints it; to verify with a private key file use --key ` + shellQuote(path)
	case errors.Is(err, jwk.ErrDuplicateKID):
		return "two keys of the set share a kid, so a token's kid cannot pick one: ask the set's publisher to fix it"
	case errors.Is(err, jwk.ErrBadKID):
		return "kids are printable ASCII without spaces: ask the set's publisher to fix it"
	case errors.As(err, &pe):
		return "the key is malformed or too weak to trust: fix the file, or fetch the set again from its issuer"
	}
	return `a JWK Set is {"keys":[...]}, as "keyctl jwks" prints it`
}

// trustedFromSet warns about each skipped key, one line each, and fails
// only when no usable key is left. With private (a services JWKS), private
// keys verify by their public half and the one kid-less shared secret is
// the legacy secret, which verifies kid-less HS256 tokens.
func trustedFromSet(s *ui.IO, source string, keys []*jwk.Key, skipped []jwk.SkippedKey, private bool) ([]jwt.TrustedKey, error) {
	for _, sk := range skipped {
		s.Warnf("JWKS %s: skipped %s", source, sk)
	}
	if len(keys) == 0 {
		why := fmt.Errorf("JWKS %s holds no keys", source)
		if len(skipped) > 0 {
			why = fmt.Errorf("JWKS %s holds no keys keyctl can use (%d skipped)", source, len(skipped))
		}
		return nil, withHint(why, "keyctl verifies ES256 (P-256), RS256 and EdDSA (Ed25519) keys for signatures")
	}
	secrets := 0
	for _, k := range keys {
		if k.IsSymmetric() && k.KID == "" {
			secrets++
		}
	}
	out := make([]jwt.TrustedKey, len(keys))
	for i, k := range keys {
		if private && !k.IsSymmetric() && k.IsPrivate() {
			pub, err := k.Public()
			if err != nil {
				return nil, err
			}
			k = pub
		}
		out[i] = jwt.TrustedKey{Key: k, Legacy: private && secrets == 1 && k.IsSymmetric() && k.KID == ""}
	}
	return out, nil
}

// remoteJWKS fetches the JWKS at --jwks URL through the cache.
func (o *verifyOptions) remoteJWKS(ctx context.Context, p jwt.Policy) (*verifySource, error) {
	if _, err := jwks.CheckURL(o.JWKS); err != nil {
		return nil, withHint(&UsageError{Err: err}, "use https://, or http:// only for 127.0.0.1, localhost or [::1]")
	}
	opts := jwks.Options{Client: o.HTTPClient, TTL: o.CacheTTL, Now: o.Now, Warn: o.IO.Warnf}
	if o.CAFile != "" {
		pool, id, err := jwks.LoadCA(o.CAFile)
		if err != nil {
			return nil, withHint(err, "give a PEM file of CA certificates with --ca")
		}
		opts.RootCAs, opts.RootCAsID = pool, id
	}
	if !o.NoCache {
		opts.CacheDir = jwks.DefaultCacheDir(o.IO.Env)
	}
	fetcher := jwks.New(opts)
	set, err := fetcher.Get(ctx, o.JWKS)
	if err != nil {
		return nil, withHint(err, "check the URL and that the server is up; exit code 1 means the token was not checked")
	}
	label := "JWKS " + o.JWKS
	keys, err := trustedFromSet(o.IO, o.JWKS, set.Keys, set.SkippedKeys, false)
	if err == nil {
		keys, err = pickKID(label, keys, o.KID)
	}
	if err != nil {
		return nil, err
	}
	src, err := newVerifySource(label, keys, false, p)
	if err != nil {
		return nil, err
	}
	src.note = o.IO.Infof
	src.refresh = func(ctx context.Context) ([]jwt.TrustedKey, error) {
		set, err := fetcher.Refresh(ctx, o.JWKS)
		if err != nil {
			return nil, err
		}
		keys, err := trustedFromSet(o.IO, o.JWKS, set.Keys, set.SkippedKeys, false)
		if err != nil {
			return nil, err
		}
		return pickKID(label, keys, o.KID)
	}
	return src, nil
}

// printVerified writes a verified token's claims in the chosen format.
func printVerified(s *ui.IO, v *jwt.Verified, format string, now time.Time, source string) error {
	switch format {
	case "":
		var buf bytes.Buffer
		if err := json.Compact(&buf, v.Claims); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err := s.Out.Write(escapeJSONText(buf.Bytes()))
		return err
	case ui.FormatJSON:
		var buf bytes.Buffer
		if err := json.Indent(&buf, v.Claims, "", "  "); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err := s.Out.Write(escapeJSONText(buf.Bytes()))
		return err
	}
	return s.RenderTable(displayTable(verifiedTable(v, format, now, source)), format)
}

// displayText makes a string from a token safe to show on a terminal:
// every rune that is not printable (C0 and C1 controls such as ESC and
// CSI, DEL, bidirectional overrides, other format characters, invalid
// UTF-8) is written as an escape instead, so a claim like "\x1b[2J" cannot
// clear the screen or restyle what follows, and "\u202e" cannot reverse
// it. Printable text, spaces and all, is unchanged.
func displayText(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || (!unicode.IsPrint(r) && r != ' ') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r) || r == ' ':
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

// displayTable passes every cell of t through displayText.
func displayTable(t ui.Table) ui.Table {
	for _, row := range t.Rows {
		for i := range row {
			row[i] = displayText(row[i])
		}
	}
	for i := range t.Headers {
		t.Headers[i] = displayText(t.Headers[i])
	}
	return t
}

// escapeJSONText rewrites the raw, unprintable runes inside the strings of
// valid JSON text as \u escapes: the JSON means the same, and a terminal
// that shows it gets no C1 controls (U+009B is CSI on some terminals) or
// bidirectional overrides. JSON itself only requires C0 controls to be
// escaped, so the signed claims may hold these raw.
func escapeJSONText(data []byte) []byte {
	i := 0
	for i < len(data) && data[i] < utf8.RuneSelf && data[i] != 0x7f {
		i++
	}
	if i == len(data) {
		return data // plain ASCII: the common case
	}
	out := make([]byte, 0, len(data)+16)
	out = append(out, data[:i]...)
	for i < len(data) {
		r, size := utf8.DecodeRune(data[i:])
		if r != utf8.RuneError && (unicode.IsPrint(r) || r < utf8.RuneSelf && r != 0x7f) {
			out = append(out, data[i:i+size]...)
			i += size
			continue
		}
		if r == utf8.RuneError && size == 1 {
			r = utf8.RuneError // invalid UTF-8 cannot be in verified JSON; show it as U+FFFD
		}
		if r > 0xFFFF {
			hi, lo := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, hi, lo)
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += size
	}
	return out
}

// verifiedTable is the readable view: who the token is for, when it
// expires, and which key vouched for it.
func verifiedTable(v *jwt.Verified, format string, now time.Time, source string) ui.Table {
	orDash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	when := func(t time.Time) string {
		if format == ui.FormatTable && !t.IsZero() {
			return t.UTC().Format(time.RFC3339) + " (" + ui.Relative(t, now) + ")"
		}
		return ui.FormatTime(t, now, format)
	}
	key := "(no kid)"
	if v.Key.Key != nil && v.Key.Key.KID != "" {
		key = v.Key.Key.KID
	}
	key += " · " + string(v.Alg)
	state := v.Key.State
	if state != "" {
		key += " · " + ui.StateLabel(state)
	} else {
		key += " · from " + source
	}
	if v.Key.Legacy {
		key += " · legacy secret"
	}
	claims := v.Claims
	var compact bytes.Buffer
	if json.Compact(&compact, v.Claims) == nil {
		claims = compact.Bytes()
	}
	rows := [][]string{
		{"status", "verified"},
		{"subject", orDash(v.Subject)},
		{"role", orDash(v.Role)},
		{"issuer", orDash(v.Issuer)},
		{"issued", orDash(when(v.IssuedAt))},
		{"expires", when(v.Expiry)},
	}
	if !v.NotBefore.IsZero() {
		rows = append(rows, []string{"not before", when(v.NotBefore)})
	}
	rows = append(rows, []string{"key", key}, []string{"claims", string(claims)})
	return ui.Table{
		Headers: []string{"FIELD", "VALUE"},
		Rows:    rows,
		Style: func(row, col int, value string) lipgloss.Style {
			st := lipgloss.NewStyle()
			if col != 1 {
				return st
			}
			switch rows[row][0] {
			case "status":
				return st.Foreground(lipgloss.Color("2")).Bold(true)
			case "key":
				return ui.StateStyle(state)
			}
			return st
		},
	}
}

// lineStatus is what one --each-line result says of its token.
type lineStatus int

const (
	lineValid    lineStatus = iota
	lineRejected            // a check failed
	lineFailed              // the token could not be checked
)

// runVerifyEachLine verifies one token per line of stdin on every core and
// prints one JSON result per line, in input order, with memory bounded by
// the tokens in flight (internal/bulk.Lines: batches of lines, each batch
// one write, answered at once when lines trickle in).
func runVerifyEachLine(ctx context.Context, o *verifyOptions, src *verifySource) error {
	var rejected, failed atomic.Int64
	verifyLine := func(dst []byte, l bulk.Line) ([]byte, error) {
		if l.Size <= jwt.MaxTokenBytes && len(bytes.TrimSpace(l.Text)) == 0 {
			return dst, nil // blank lines are not tokens
		}
		var res *jwt.Verified
		var err error
		if l.Size > jwt.MaxTokenBytes {
			err = &jwt.ValidationError{Failures: []jwt.Failure{{Check: jwt.CheckSize,
				Reason: fmt.Sprintf("token is %d bytes, over the %d-byte limit", l.Size, jwt.MaxTokenBytes)}}}
		} else {
			res, err = src.verify(ctx, l.Text)
		}
		dst, status := appendLineResult(dst, l.No, res, err)
		switch status {
		case lineRejected:
			rejected.Add(1)
		case lineFailed:
			failed.Add(1)
		}
		return dst, nil
	}
	if err := bulk.Lines(o.IO.Out, stdinTokens{o.IO.In}, bulk.LineOptions{Workers: o.Workers, Max: jwt.MaxTokenBytes}, verifyLine); err != nil {
		return err
	}
	switch {
	case failed.Load() > 0:
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d tokens could not be checked", failed.Load())}
	case rejected.Load() > 0:
		return &ExitError{Code: ExitRejected, Err: fmt.Errorf("%d tokens rejected", rejected.Load()), Silent: true}
	}
	return nil
}

// stdinTokens says where a read error came from, so that it is told apart
// from a failed write of the results.
type stdinTokens struct{ r io.Reader }

func (s stdinTokens) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("read tokens from stdin: %w", err)
	}
	return n, err
}

// appendLineResult appends {"line":N,"valid":true,"kid":...,"claims":{...}}
// or {"line":N,"valid":false,"checks":[...],"reasons":[...]}, or one with
// "error" when the token could not be checked, and a newline.
func appendLineResult(b []byte, n int, res *jwt.Verified, err error) ([]byte, lineStatus) {
	b = append(b, `{"line":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	var ve *jwt.ValidationError
	switch {
	case err == nil:
		b = append(b, `,"valid":true`...)
		if res.KID != "" {
			b = append(b, `,"kid":`...)
			b = appendJSONString(b, res.KID)
		}
		b = append(b, `,"alg":`...)
		b = appendJSONString(b, string(res.Alg))
		b = append(b, `,"claims":`...)
		var buf bytes.Buffer
		buf.Grow(len(res.Claims))
		_ = json.Compact(&buf, res.Claims) // verified: valid JSON
		b = append(b, escapeJSONText(buf.Bytes())...)
		b = append(b, "}\n"...)
		return b, lineValid
	case errors.As(err, &ve):
		b = append(b, `,"valid":false,"checks":[`...)
		for i, c := range ve.Checks() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, string(c))
		}
		b = append(b, `],"reasons":[`...)
		for i, r := range ve.Reasons() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, r)
		}
		b = append(b, "]}\n"...)
		return b, lineRejected
	}
	b = append(b, `,"valid":false,"error":`...)
	b = appendJSONString(b, oneLine(err.Error()))
	b = append(b, "}\n"...)
	return b, lineFailed
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, escapeJSONText(q)...)
}
