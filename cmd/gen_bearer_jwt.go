package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/config"
	"github.com/keyctl/keyctl/internal/ui"
	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/jwt"
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
	ValidFor time.Duration
	Payload  string
	Claims   []string
	Iss      string
	Aud      []string
	JTI      string
	Key      string
	KeysFile string
	KID      string
}

func newGenBearerJWTCmd(f *Factory) *cobra.Command {
	o := &genBearerJWTOptions{IO: f.IO, Now: f.Now, Factory: f}
	c := &cobra.Command{
		Use:   "bearer-jwt",
		Short: "Mint a signed JWT for CI scripts and local testing",
		Long: `Mint a JWT signed with a private key and print it on stdout.

Claims follow the Supabase CLI: iat and exp in whole seconds, role, sub when
given, and is_anonymous: true when the role is "authenticated" and no sub is
given. --payload is merged over those; --iss, --aud, --jti and --claim are
applied last. Claims are serialised with sorted keys; the header is
{"alg","kid","typ":"JWT"}.

The key is the first of: --key FILE (a JWK, a PEM private key or a
signing_keys.json array; "-" reads stdin), --keys-file PATH (the key whose
key_ops hold "sign", else the first), the keyring's key in use. --kid picks
a key by its ID.

--exp takes RFC 3339 or Unix seconds; with --exp, iat = exp - valid-for.
--jti given without a value (or --jti=random) sets a random UUID.`,
		Example: `  keyctl gen bearer-jwt --role authenticated --key key.json
  keyctl gen bearer-jwt --role service_role --sub admin --valid-for 1h --keys-file supabase/signing_keys.json
  keyctl gen bearer-jwt --role authenticated --key key.json --claim email=dev@example.com --aud authenticated`,
		Args: noArgs(func(string) string {
			if o.JTI == randomJTI {
				return "--jti alone takes no value: write --jti=VALUE to set one"
			}
			return ""
		}),
		RunE: func(c *cobra.Command, args []string) error {
			return runGenBearerJWT(o)
		},
	}
	fl := c.Flags()
	fl.StringVar(&o.Role, "role", "", "value of the role claim (required)")
	fl.StringVar(&o.Sub, "sub", "", "value of the sub claim (user ID)")
	fl.StringVar(&o.Exp, "exp", "", "expiry as RFC 3339 or Unix seconds (default now + valid-for)")
	fl.DurationVar(&o.ValidFor, "valid-for", 30*time.Minute, "token lifetime")
	fl.StringVar(&o.Payload, "payload", "", "JSON object merged over the computed claims")
	fl.StringArrayVar(&o.Claims, "claim", nil, "extra claim key=value; value is JSON when it parses, else a string (repeatable)")
	fl.StringVar(&o.Iss, "iss", "", "issuer claim")
	fl.StringArrayVar(&o.Aud, "aud", nil, "audience claim (repeatable: several make an array)")
	fl.StringVar(&o.JTI, "jti", "", "token ID claim; alone, a random UUID")
	fl.Lookup("jti").NoOptDefVal = randomJTI
	fl.StringVar(&o.Key, "key", "", "private key file: JWK, PEM or signing_keys.json (- for stdin)")
	fl.StringVar(&o.KeysFile, "keys-file", "", "Supabase signing_keys.json to take the signing key from")
	fl.StringVar(&o.KID, "kid", "", "key ID of the key to sign with")
	_ = c.MarkFlagRequired("role")
	c.MarkFlagsMutuallyExclusive("key", "keys-file")
	config.Bind(fl, "valid-for", "valid_for")
	_ = c.RegisterFlagCompletionFunc("role", cobra.FixedCompletions([]string{"authenticated", "anon", "service_role"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func runGenBearerJWT(o *genBearerJWTOptions) error {
	claimOpts, err := o.claimOptions()
	if err != nil {
		return err
	}
	claims, err := jwt.BuildClaims(claimOpts)
	if err != nil {
		return &UsageError{Err: err}
	}
	key, err := loadSigningKey(o.Factory, o.Key, o.KeysFile, o.KID)
	if err != nil {
		return err
	}
	signer, err := jwt.NewSigner(key)
	if err != nil {
		return err
	}
	tok, err := signer.Sign(claims)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(o.IO.Out, tok)
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
	if o.ValidFor <= 0 {
		return co, &UsageError{Err: fmt.Errorf("--valid-for must be positive, not %s", o.ValidFor)}
	}
	if o.JTI == randomJTI {
		co.JTI = jwk.NewKID()
	}
	if o.Exp != "" {
		t, err := parseTime(o.Exp)
		if err != nil {
			return co, &UsageError{Err: fmt.Errorf("--exp: %w", err)}
		}
		if !t.After(co.Now) {
			return co, withHint(&UsageError{Err: fmt.Errorf("--exp %s is in the past", t.UTC().Format(time.RFC3339))}, "give a future time, or use --valid-for")
		}
		co.Expiry = t
	}
	if o.Payload != "" {
		p, err := parsePayload(o.Payload)
		if err != nil {
			return co, withHint(&UsageError{Err: fmt.Errorf("--payload: %w", err)}, `pass a JSON object, e.g. --payload '{"email":"dev@example.com"}'`)
		}
		co.Payload = p
	}
	for _, s := range o.Claims {
		k, v, err := jwt.ParseClaimFlag(s)
		if err != nil {
			return co, withHint(&UsageError{Err: fmt.Errorf("--claim: %w", err)}, "write --claim name=value")
		}
		if co.Extra == nil {
			co.Extra = map[string]any{}
		}
		co.Extra[k] = v
	}
	return co, nil
}

// parsePayload reads a JSON object, numbers kept exact.
func parsePayload(s string) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// parseTime accepts RFC 3339 or Unix seconds.
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
