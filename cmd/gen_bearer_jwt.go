package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/bulk"
	"github.com/keyctl/keyctl/internal/config"
	"github.com/keyctl/keyctl/internal/ui"
	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/jwt"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// randomJTI is the value --jti takes when given without one.
const randomJTI = "random"

type genBearerJWTOptions struct {
	IO       *ui.IO
	Now      func() time.Time
	Factory  *Factory
	Role     string
	Sub      string
	Exp      string
	IAT      string
	NBF      string
	ValidFor time.Duration
	Payload  string
	Claims   []string
	Iss      string
	Aud      []string
	JTI      string
	Key      string
	KeysFile string
	KID      string

	// Supabase Auth's claims: a token of the shape Auth issues.
	SessionID string
	AAL       string
	AMR       []string
	Email     string
	Phone     string
	AnySub    bool
	audSet    bool

	// Bulk minting: --count N tokens with distinct jti, or one token per
	// line of --claims-from, on --workers goroutines.
	Count      int64
	ClaimsFrom string
	Workers    int

	countSet, workersSet bool // given on the command line, even as 0
	validForSet          bool // --valid-for on the command line, not from the config
}

func newGenBearerJWTCmd(f *Factory) *cobra.Command {
	o := &genBearerJWTOptions{IO: f.IO, Now: f.Now, Factory: f}
	c := &cobra.Command{
		Use:   "bearer-jwt",
		Short: "Mint a signed JWT for CI scripts and local testing",
		Long: `Mint a JWT signed with a private key and print it on stdout.

Claims follow the Supabase CLI: iat and exp in whole seconds, role, sub when
given, and is_anonymous: true when the role is "authenticated" and no sub is
given; --iss, --aud, --jti and --nbf add those claims, --payload and --claim
any others. A claim with a flag comes from its flag only: exp, iat, nbf,
sub, role, aud, iss, jti or is_anonymous given through --claim, --payload
or --claims-from is refused (exit 2), and so are a name given twice and two
names that differ only in letter case. Claims are serialised with sorted
keys; the header is {"alg","kid","typ":"JWT"}.

The key is the first of: --key FILE (a JWK, a PEM private key or a
signing_keys.json array; "-" reads stdin), --keys-file PATH (the key whose
key_ops hold "sign", else the first), the keyring's key in use. --kid picks
a key by its ID.

Times: iat is the minting time, or --iat for reproducible fixtures (with
--exp); exp is --exp, else iat + --valid-for (1s to 100 years); --exp and
--valid-for cannot both be given. --exp, --iat and --nbf take RFC 3339 or
Unix seconds up to 9999-12-31T23:59:59Z. exp must be after iat and in the
future, nbf before exp. With the keyring's key, a lifetime (exp - iat)
above the keyring's max token lifetime is refused: raise it with "keyctl
keys max-token-lifetime DURATION". Keys from --key and --keys-file have no
such maximum.

--jti given without a value (or --jti=random) sets a random UUID.

Tokens Supabase accepts as they are: with --role authenticated, aud
defaults to "authenticated" (Auth's audience; its /user refuses a token
without it; --aud overrides), and --sub must be a UUID, the user's id, as
Auth's /user and Postgres's auth.uid() need (--any-sub mints another sub
for services that are not Supabase). --session-id, --aal, --amr, --email
and --phone add the claims Auth puts in its own access tokens (amr as
[{"method":M,"timestamp":iat}]), so a test can mint a token of the same
shape; each may also come from --payload, --claim or a --claims-from line,
never from both.

Bulk minting prints one token per line, streaming, on every core (--workers
to choose), in a stable order:
  --count N         N tokens with the same claims (iat and exp too) and a
                    distinct random UUID as jti each; --jti=VALUE is refused.
  --claims-from F   one token per line of F ("-" for stdin), each line one
                    JSON object merged over the command-line claims: a line
                    may override a --claim or --payload claim, and set sub,
                    iss, aud or jti when their flag is not given; never exp,
                    iat, nbf, role or is_anonymous (exit 2). is_anonymous
                    follows each token's own sub.
                    Output line k is the token for input line k. The first
                    bad line (not a JSON object, duplicate names, blank) stops
                    the run with an error naming it, exit 1; the tokens of the
                    lines before it have been printed.`,
		Example: `  keyctl gen bearer-jwt --role authenticated --sub 5b8e4f3a-9c7d-4e21-8f6a-2d1c0b9e8a77 --session-id 0d6f1e2a-3b4c-4d5e-8f90-a1b2c3d4e5f6 --aal aal1 --amr password --email dev@example.com
  keyctl gen bearer-jwt --role authenticated --key key.json
  keyctl gen bearer-jwt --role service_role --valid-for 1h --keys-file supabase/signing_keys.json
  keyctl gen bearer-jwt --role authenticated --key key.json --claim user_metadata='{"name":"Dev"}' 
  keyctl gen bearer-jwt --role authenticated --key key.json --count 10000 > tokens.txt
  jq -c '{sub: .id, email}' users.json | keyctl gen bearer-jwt --role authenticated --key key.json --claims-from -`,
		Args: noArgs(func(string) string {
			if o.JTI == randomJTI {
				return "--jti alone takes no value: write --jti=VALUE to set one"
			}
			return ""
		}),
		RunE: func(c *cobra.Command, args []string) error {
			o.countSet = c.Flags().Changed("count")
			o.workersSet = c.Flags().Changed("workers")
			o.validForSet = c.Flags().Changed("valid-for")
			o.audSet = c.Flags().Changed("aud")
			// --sub "$UID" with UID unset would mint an anonymous user's
			// token, --aud "" a token for no audience: a usage error, as
			// for verify's expectations.
			for _, name := range []string{"sub", "iss", "jti"} {
				if c.Flags().Changed(name) && c.Flags().Lookup(name).Value.String() == "" {
					return withHint(&UsageError{Err: fmt.Errorf("--%s needs a value: an empty one would mint a token without it", name)}, "leave --%s out for a token without %s", name, name)
				}
			}
			for _, a := range o.Aud {
				if a == "" {
					return withHint(&UsageError{Err: errors.New("--aud needs a value: an empty one would mint a token for no audience")}, "leave --aud out for Supabase's default, authenticated")
				}
			}
			return runGenBearerJWT(o)
		},
	}
	fl := c.Flags()
	fl.StringVar(&o.Role, "role", "", "value of the role claim (required)")
	fl.StringVar(&o.Sub, "sub", "", "value of the sub claim (user ID)")
	fl.StringVar(&o.Exp, "exp", "", "expiry as RFC 3339 or Unix seconds (default iat + valid-for; not with --valid-for)")
	fl.StringVar(&o.IAT, "iat", "", "issued-at as RFC 3339 or Unix seconds, for reproducible tokens (default now)")
	fl.StringVar(&o.NBF, "nbf", "", "not-before as RFC 3339 or Unix seconds (default none)")
	fl.DurationVar(&o.ValidFor, "valid-for", 30*time.Minute, "token lifetime from iat, 1s to 100 years (not with --exp)")
	fl.StringVar(&o.Payload, "payload", "", "JSON object of claims without a flag of their own")
	fl.StringArrayVar(&o.Claims, "claim", nil, "claim without a flag of its own, key=value; value is JSON when it parses, else a string (repeatable)")
	fl.StringVar(&o.Iss, "iss", "", "issuer claim")
	fl.StringArrayVar(&o.Aud, "aud", nil, "audience claim (repeatable: several make an array)")
	fl.StringVar(&o.JTI, "jti", "", "token ID claim; alone, a random UUID")
	fl.Lookup("jti").NoOptDefVal = randomJTI
	fl.StringVar(&o.Key, "key", "", "private key file: JWK, PEM or signing_keys.json (- for stdin)")
	fl.StringVar(&o.KeysFile, "keys-file", "", "Supabase signing_keys.json to take the signing key from")
	fl.StringVar(&o.KID, "kid", "", "key ID of the key to sign with")
	fl.Int64Var(&o.Count, "count", 0, "mint N tokens, one per line, each with its own random jti")
	fl.StringVar(&o.ClaimsFrom, "claims-from", "", "mint one token per line of FILE (- for stdin): a JSON object of claims per line")
	fl.IntVar(&o.Workers, "workers", 0, "goroutines minting in bulk (default: every core)")
	fl.StringVar(&o.SessionID, "session-id", "", "session_id claim, as Auth's tokens carry (a UUID)")
	fl.StringVar(&o.AAL, "aal", "", "aal claim: aal1 or aal2")
	fl.StringArrayVar(&o.AMR, "amr", nil, "authentication method for the amr claim, e.g. password, otp, oauth (repeatable)")
	fl.StringVar(&o.Email, "email", "", "email claim")
	fl.StringVar(&o.Phone, "phone", "", "phone claim")
	fl.BoolVar(&o.AnySub, "any-sub", false, "with --role authenticated, accept a --sub that is not a UUID (for services that are not Supabase)")
	_ = c.MarkFlagRequired("role")
	addKeyringFlag(c, f)
	c.MarkFlagsMutuallyExclusive("key", "keys-file")
	c.MarkFlagsMutuallyExclusive("key", "keyring")
	c.MarkFlagsMutuallyExclusive("keys-file", "keyring")
	c.MarkFlagsMutuallyExclusive("count", "claims-from")
	config.Bind(fl, "valid-for", "valid_for")
	_ = c.RegisterFlagCompletionFunc("role", cobra.FixedCompletions([]string{"authenticated", "anon", "service_role"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func runGenBearerJWT(o *genBearerJWTOptions) error {
	if err := o.checkBulkFlags(); err != nil {
		return err
	}
	claimOpts, err := o.claimOptions()
	if err != nil {
		return err
	}
	claims, err := jwt.BuildClaims(claimOpts)
	if err != nil {
		return claimsError(err)
	}
	key, maxLifetime, err := loadSigningKey(o.Factory, o.Key, o.KeysFile, o.KID)
	if err != nil {
		return err
	}
	if lifetime := jwt.Lifetime(claims, claimOpts.Now); maxLifetime > 0 && lifetime > maxLifetime {
		return withHint(fmt.Errorf("a token lifetime of %s is above the keyring's max token lifetime of %s",
			keyring.ShortDuration(lifetime), keyring.ShortDuration(maxLifetime)),
			"mint a shorter token, or raise the maximum: keyctl keys max-token-lifetime %s (rotated-out keys then wait that long before revocation)",
			keyring.ShortDuration(lifetime))
	}
	signer, err := jwt.NewSigner(key)
	if err != nil {
		return err
	}
	switch {
	case o.Count > 0:
		return mintCount(o, signer, claims)
	case o.ClaimsFrom != "":
		return mintClaimsFrom(o, signer, claims, claimOpts)
	}
	tok, err := signer.Sign(claims)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(o.IO.Out, tok)
	return err
}

// checkBulkFlags refuses the flag combinations bulk minting cannot honour.
func (o *genBearerJWTOptions) checkBulkFlags() error {
	bulkMode := o.Count != 0 || o.ClaimsFrom != ""
	switch {
	case o.Count < 0 || (o.Count == 0 && o.countSet):
		return withHint(&UsageError{Err: fmt.Errorf("--count must be at least 1, not %d", o.Count)}, "leave --count out for a single token")
	case o.Workers < 0 || (o.Workers == 0 && o.workersSet):
		return withHint(&UsageError{Err: fmt.Errorf("--workers must be at least 1, not %d", o.Workers)}, "leave --workers out to use every core")
	case o.Workers > bulk.MaxWorkers:
		return withHint(&UsageError{Err: fmt.Errorf("--workers must be at most %d, not %d", bulk.MaxWorkers, o.Workers)}, "leave --workers out to use every core")
	case o.workersSet && !bulkMode:
		return withHint(&UsageError{Err: errors.New("--workers applies to bulk minting only")}, "add --count N or --claims-from FILE")
	case bulkMode && o.JTI != "" && o.JTI != randomJTI:
		return withHint(&UsageError{Err: errors.New("--jti=VALUE would give every token the same jti")},
			"bulk tokens get a random jti each with --count (and with --jti alone for --claims-from); a line of --claims-from may set its own")
	case o.ClaimsFrom == "-" && o.Key == "-":
		return &UsageError{Err: errors.New("--claims-from - and --key - cannot both read stdin")}
	}
	return nil
}

// mintCount prints o.Count tokens with the same claims and a random jti each.
func mintCount(o *genBearerJWTOptions, signer *jwt.Signer, claims map[string]any) error {
	series, err := signer.NewSeries(claims, "jti", bulk.UUIDLen)
	if err != nil {
		return err
	}
	return bulk.MintCount(o.IO.Out, series, o.Count, o.Workers)
}

// mintClaimsFrom prints one token per line of --claims-from, each line's
// claims merged over the command-line ones.
func mintClaimsFrom(o *genBearerJWTOptions, signer *jwt.Signer, base map[string]any, co jwt.ClaimOptions) error {
	var in io.Reader
	name := o.ClaimsFrom
	if name == "-" {
		in, name = o.IO.In, "stdin"
	} else {
		f, err := os.Open(o.ClaimsFrom)
		if err != nil {
			return withHint(fmt.Errorf("--claims-from: %w", err), "pass a file with one JSON object of claims per line, or - for stdin")
		}
		defer f.Close()
		in = f
	}
	freshJTI := o.JTI == randomJTI
	scratch := sync.Pool{New: func() any { m := make(map[string]any, len(base)+8); return &m }}
	mint := func(dst, line []byte) ([]byte, error) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '{' {
			return dst, errors.New("not a JSON object") // null, a number, an array, text
		}
		over, err := jwt.ParseClaims(line)
		if err != nil {
			return dst, err
		}
		if err := co.CheckLineClaims(over, base); err != nil {
			return dst, &UsageError{Err: err}
		}
		mp := scratch.Get().(*map[string]any)
		defer scratch.Put(mp)
		c := *mp
		clear(c)
		maps.Copy(c, base)
		if freshJTI {
			c["jti"] = jwk.NewKID()
		}
		maps.Copy(c, over)
		// is_anonymous follows each token's own sub: a line may set sub
		// (no line or flag sets is_anonymous itself).
		jwt.ApplyAnonymousRule(c)
		return signer.AppendToken(dst, c)
	}
	err := bulk.MintLines(o.IO.Out, in, o.Workers, mint)
	var le *bulk.LineError
	var ue *UsageError
	if errors.As(err, &le) && errors.As(le.Err, &ue) {
		return withHint(fmt.Errorf("--claims-from %s %w", name, err),
			"leave it out of the lines, or set it on the command line; the tokens of the %d line(s) before it were printed", le.Line-1)
	}
	if errors.As(err, &le) {
		return withHint(fmt.Errorf("--claims-from %s %w", name, err),
			"each line must be one JSON object of claims; the tokens of the %d line(s) before it were printed", le.Line-1)
	}
	return err
}

func (o *genBearerJWTOptions) claimOptions() (jwt.ClaimOptions, error) {
	co := jwt.ClaimOptions{
		Role:     o.Role,
		Subject:  o.Sub,
		Now:      o.Now().Truncate(time.Second),
		ValidFor: o.ValidFor,
		Issuer:   o.Iss,
		Audience: o.Aud,
		JTI:      o.JTI,
	}
	if strings.TrimSpace(o.Role) == "" {
		return co, &UsageError{Err: errors.New("--role must not be empty")}
	}
	if o.Exp != "" && o.validForSet {
		return co, withHint(&UsageError{Err: errors.New("--exp and --valid-for both set exp: give one")},
			"--exp is a fixed expiry; --valid-for a lifetime from iat (now, or --iat)")
	}
	if o.Exp == "" {
		switch {
		case o.ValidFor < time.Second:
			return co, withHint(&UsageError{Err: fmt.Errorf("--valid-for must be at least 1s, not %s", o.ValidFor)},
				"a shorter lifetime mints a token that has expired by the time it is used")
		case o.ValidFor > jwt.MaxLifetime:
			return co, withHint(&UsageError{Err: fmt.Errorf("--valid-for %s is longer than 100 years, the longest lifetime keyctl mints", o.ValidFor)},
				"give a shorter lifetime, e.g. --valid-for 87600h (10 years)")
		}
	}
	if o.JTI == randomJTI {
		co.JTI = jwk.NewKID()
	}
	co.SessionID, co.AAL, co.AMR, co.Email, co.Phone = o.SessionID, o.AAL, o.AMR, o.Email, o.Phone
	if o.Role == "authenticated" {
		// What Auth's /user asks of a user's token.
		co.UUIDSubject = !o.AnySub
		if !o.audSet {
			co.Audience, co.AudienceDefault = []string{"authenticated"}, true
		}
	} else if o.AnySub {
		return co, &UsageError{Err: errors.New("--any-sub applies to --role authenticated, whose sub must otherwise be a UUID")}
	}
	if o.SessionID != "" && !jwt.IsUUID(o.SessionID) {
		return co, withHint(&UsageError{Err: fmt.Errorf("--session-id %q is not a UUID", o.SessionID)}, "Auth's sessions have UUID ids; /user refuses a session_id that names no session")
	}
	switch o.AAL {
	case "", "aal1", "aal2":
	default:
		return co, withHint(&UsageError{Err: fmt.Errorf("--aal %q", o.AAL)}, "Auth's assurance levels are aal1 and aal2")
	}
	for _, m := range o.AMR {
		if strings.TrimSpace(m) == "" {
			return co, &UsageError{Err: errors.New("--amr needs a method name, e.g. password")}
		}
	}
	if o.Role == "authenticated" && o.Sub != "" && co.UUIDSubject && !jwt.IsUUID(o.Sub) {
		return co, withHint(&UsageError{Err: fmt.Errorf("--sub %q %w", o.Sub, jwt.ErrSubjectNotUUID)}, "give the user's id (a UUID), or --any-sub to mint it anyway for a service that is not Supabase")
	}
	var err error
	if co.Expiry, err = timeFlag("exp", o.Exp); err != nil {
		return co, err
	}
	if co.IssuedAt, err = timeFlag("iat", o.IAT); err != nil {
		return co, err
	}
	if co.NotBefore, err = timeFlag("nbf", o.NBF); err != nil {
		return co, err
	}
	if !co.Expiry.IsZero() && !co.Expiry.After(co.Now) {
		return co, withHint(&UsageError{Err: fmt.Errorf("--exp %s is in the past", co.Expiry.UTC().Format(time.RFC3339))}, "give a future time, or use --valid-for")
	}
	if o.Payload != "" {
		p, err := jwt.ParseClaims([]byte(o.Payload))
		if err != nil {
			return co, withHint(&UsageError{Err: fmt.Errorf("--payload: %w", err)}, `pass a JSON object, e.g. --payload '{"email":"dev@example.com"}'`)
		}
		co.Payload = p
	}
	if co.Extra, err = jwt.ParseClaimFlags(o.Claims); err != nil {
		return co, withHint(&UsageError{Err: fmt.Errorf("--claim: %w", err)}, "write --claim name=value, each name once")
	}
	return co, nil
}

// timeFlag reads a --exp, --iat or --nbf value; "" is the zero time.
func timeFlag(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := jwt.ParseTime(s)
	if err != nil {
		return t, withHint(&UsageError{Err: fmt.Errorf("--%s: %w", name, err)},
			"give RFC 3339 (2100-01-01T00:00:00Z) or Unix seconds, in whole seconds from 1970 to the end of 9999")
	}
	return t, nil
}

// claimsError turns a refusal of jwt.BuildClaims into a usage error with
// the next step.
func claimsError(err error) error {
	var cs *jwt.ClaimSourceError
	switch {
	case errors.As(err, &cs) && cs.Name != cs.Claim:
		return withHint(&UsageError{Err: err}, "rename the claim; set %s with %s", cs.Claim, cs.Flag)
	case errors.As(err, &cs) && cs.Claim == "is_anonymous":
		return withHint(&UsageError{Err: err}, "is_anonymous is true for --role authenticated without --sub, absent otherwise")
	case errors.As(err, &cs):
		return withHint(&UsageError{Err: err}, "use %s instead", cs.Flag)
	}
	return &UsageError{Err: err}
}

// parseTime accepts RFC 3339 or Unix seconds (verify --at; the minting
// flags use jwt.ParseTime, which also bounds the range).
func parseTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2026-01-02T15:04:05Z) nor Unix seconds", s)
	}
	return t, nil
}
