package cmd

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/stack"
	"github.com/keyctl/keyctl/internal/store"
	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/jwt"
	"github.com/keyctl/keyctl/pkg/keyring"
)

func newSupabaseCmd(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "supabase",
		Short: "Set up and check the keys of a whole Supabase stack",
		Long: `Commands for a Supabase stack as a whole (a self-hosted compose project, or
your own): one keyring, every service's variable. See
docs/guides/self-hosted.md.`,
		Args: groupArgs,
		RunE: groupRunE,
	}
	c.AddCommand(newSupabaseInitCmd(f), newSupabaseDoctorCmd(f))
	return c
}

// --- supabase init-self-hosted ---

type supabaseInitOptions struct {
	F              *Factory
	Env            string
	Legacy         bool
	Force          bool
	Algorithm      string
	APIKeyValid    time.Duration
	ComposeFile    string
	lockTimeout    time.Duration
	passphraseArg  string
	apiKeyValidSet bool
}

// apiKeyDefaultValidity is how long the legacy anon and service_role keys
// live: five years, as self-hosting guides generate them.
const apiKeyDefaultValidity = 5 * 365 * 24 * time.Hour

func newSupabaseInitCmd(f *Factory) *cobra.Command {
	o := &supabaseInitOptions{F: f}
	c := &cobra.Command{
		Use:   "init-self-hosted [--env .env] [--legacy]",
		Short: "Give a self-hosted Supabase project an asymmetric key setup in one step",
		Long: `Write, for a self-hosted Supabase compose project, a new keyring and the .env
entries every service needs:

  a keyring with an ES256 key in use (--algorithm RS256 for RSA), and with
  --legacy the legacy HS256 JWT secret too (previously used: it still
  verifies, for projects that need the anon and service_role JWT API keys);
  in .env: GOTRUE_JWT_KEYS (Auth), PGRST_JWT_SECRET (PostgREST),
  API_JWT_JWKS (Realtime), JWT_JWKS (Storage), SUPABASE_JWKS (Edge
  Functions), and with --legacy JWT_SECRET, ANON_KEY and SERVICE_ROLE_KEY
  (HS256 tokens signed with the legacy secret, valid --api-key-valid-for);
  docker-compose.keyctl.yml beside .env: an override that passes each
  variable to its service (docker compose -f docker-compose.yml -f
  docker-compose.keyctl.yml up -d).

An existing .env keeps every other line byte for byte. A variable it already
sets is never replaced without --force (the placeholder JWT_SECRET of
.env.example excepted), and a keyring that already holds keys is refused:
rotate it instead (docs/guides/self-hosted.md). The .env is written
atomically, mode 0600.`,
		Example: `  cd supabase/docker && keyctl supabase init-self-hosted --legacy
  keyctl supabase init-self-hosted --env ./docker/.env --keyring ./docker/keyring.json`,
		Args: noArgs(nil),
		RunE: func(c *cobra.Command, args []string) error {
			o.apiKeyValidSet = c.Flags().Changed("api-key-valid-for")
			return runSupabaseInit(c.Context(), o)
		},
	}
	addKeyringFlag(c, f)
	fl := c.Flags()
	fl.StringVar(&o.Env, "env", ".env", "the compose project's env file")
	fl.BoolVar(&o.Legacy, "legacy", false, "also a legacy HS256 JWT secret, with JWT_SECRET, ANON_KEY and SERVICE_ROLE_KEY")
	fl.BoolVar(&o.Force, "force", false, "replace variables the env file already sets")
	fl.StringVarP(&o.Algorithm, "algorithm", "a", "ES256", "algorithm of the signing key: ES256 or RS256 (what every Supabase client verifies)")
	fl.DurationVar(&o.APIKeyValid, "api-key-valid-for", apiKeyDefaultValidity, "lifetime of ANON_KEY and SERVICE_ROLE_KEY (with --legacy)")
	fl.StringVar(&o.ComposeFile, "compose-override", "docker-compose.keyctl.yml", "compose override to write beside the env file (\"\" for none)")
	fl.StringVar(&o.passphraseArg, "passphrase-file", "", "file holding the passphrase of an encrypted keyring")
	fl.DurationVar(&o.lockTimeout, "lock-timeout", store.DefaultLockTimeout, "how long to wait for another keyctl changing the keyring")
	return c
}

// stackVariables are what init-self-hosted writes, in order.
func initVariables(legacy bool) []string {
	var names []string
	for _, s := range stack.Services {
		names = append(names, s.Variable)
	}
	if legacy {
		names = append(names, "JWT_SECRET", "ANON_KEY", "SERVICE_ROLE_KEY")
	}
	return names
}

// placeholderValue reports a value .env.example ships, which init replaces
// without --force.
func placeholderValue(v string) bool {
	v = strings.Trim(v, `"'`)
	return v == "" || strings.Contains(v, "your-super-secret-jwt-token")
}

func runSupabaseInit(ctx context.Context, o *supabaseInitOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	alg, aerr := jwk.ParseAlgorithm(o.Algorithm)
	if aerr != nil || (alg != jwk.ES256 && alg != jwk.RS256) {
		return withHint(&UsageError{Err: fmt.Errorf("--algorithm %s: a Supabase stack's signing key is ES256 or RS256", o.Algorithm)}, "auth-js verifies ES256 and RS256 only; ES256 is recommended")
	}
	if o.APIKeyValid < time.Hour || o.APIKeyValid > 20*365*24*time.Hour {
		return &UsageError{Err: fmt.Errorf("--api-key-valid-for %s: between 1h and 20 years", o.APIKeyValid)}
	}
	if !o.Legacy && o.apiKeyValidSet {
		return withHint(&UsageError{Err: errors.New("--api-key-valid-for applies to the legacy API keys: add --legacy")}, "keyctl supabase init-self-hosted --legacy --api-key-valid-for 87600h")
	}
	// The env file first: refuse before anything is written.
	if st, err := os.Stat(o.Env); err == nil && st.IsDir() {
		return withHint(fmt.Errorf("--env %s is a directory", o.Env), "give --env the compose project's env file, e.g. --env %s", filepath.Join(o.Env, ".env"))
	}
	data, err := os.ReadFile(o.Env)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", o.Env, err)
	}
	if err != nil {
		if err := requireDir(o.Env); err != nil {
			return err
		}
	}
	env := stack.ParseEnvFile(data)
	var taken []string
	for _, name := range initVariables(o.Legacy) {
		if v, ok := env.Value(name); ok && !placeholderValue(v) {
			taken = append(taken, name)
		}
	}
	if len(taken) > 0 && !o.Force {
		return withHint(fmt.Errorf("%s already sets %s", o.Env, strings.Join(taken, ", ")), "nothing was written; --force replaces them (rotate an existing setup instead: docs/guides/self-hosted.md)")
	}
	compose := ""
	if o.ComposeFile != "" {
		compose = filepath.Join(filepath.Dir(o.Env), o.ComposeFile)
		if _, err := os.Stat(compose); err == nil && !o.Force {
			return withHint(fmt.Errorf("%s already exists", compose), "nothing was written; --force replaces it, or --compose-override \"\" writes none")
		}
	}

	// The keyring: a new one, with its first key in use.
	s, err := openKeyring(o.F, o.passphraseArg, o.lockTimeout)
	if err != nil {
		return err
	}
	key, err := jwk.Generate(alg, jwk.GenerateOptions{})
	if err != nil {
		return err
	}
	var secret string
	var secretKey *jwk.Key
	if o.Legacy {
		secret, secretKey, err = newLegacySecret()
		if err != nil {
			return err
		}
	}
	st := keyringStamp(o.F)
	h, err := s.Update(ctx, true, func(kr *keyring.Keyring) error {
		if len(kr.Keys) > 0 {
			return errKeyringNotEmpty
		}
		if secretKey != nil {
			if _, _, err := kr.MigrateLegacy(secretKey, key, st, keyring.Options{}); err != nil {
				return err
			}
		} else if _, err := kr.Create(key, st); err != nil {
			return err
		}
		// A new stack: no verifier has cached anything yet, so the key
		// goes in use at once (with the legacy secret in use, the rotation
		// wait would apply; here it guards nothing).
		_, _, err := kr.Rotate(key.KID, st, keyring.Options{Force: true})
		return err
	})
	if errors.Is(err, errKeyringNotEmpty) {
		return withHint(fmt.Errorf("keyring %s already holds keys", s.Location()), "nothing was written; to give the stack its keys: keyctl keys export --format env --to %s; to start afresh, point --keyring elsewhere", o.Env)
	}
	if err != nil {
		return keyringError(s.Location(), err)
	}
	x, err := stack.Build(h.Keyring)
	if err != nil {
		return keyringError(h.Path, err)
	}
	vars, err := x.Variables()
	if err != nil {
		return err
	}
	if o.Legacy {
		anon, service, err := legacyAPIKeys(secretKey, o.F.Now(), o.APIKeyValid)
		if err != nil {
			return err
		}
		vars = append(vars, stack.Var{Name: "JWT_SECRET", Value: secret}, stack.Var{Name: "ANON_KEY", Value: anon}, stack.Var{Name: "SERVICE_ROLE_KEY", Value: service})
	}
	for _, v := range vars {
		if err := env.Set(v.Name, v.Value); err != nil {
			return err
		}
	}
	if err := store.WriteFileAtomic(o.Env, env.Bytes(), 0o600); err != nil {
		return withHint(fmt.Errorf("write %s: %w", o.Env, err), "the keyring %s was created; write the variables with: keyctl keys export --format env --to FILE", h.Path)
	}
	o.F.IO.Infof("created keyring %s: %s key %s in use%s", h.Path, alg, key.KID, map[bool]string{true: ", legacy JWT secret trusted", false: ""}[o.Legacy])
	o.F.IO.Infof("wrote %d variables to %s (%s)", len(vars), o.Env, strings.Join(initVariables(o.Legacy), ", "))
	if compose != "" {
		if err := store.WriteFileAtomic(compose, composeOverride(), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", compose, err)
		}
		o.F.IO.Infof("wrote %s", compose)
		o.F.IO.Hintf("start the stack with: docker compose -f docker-compose.yml -f %s up -d", filepath.Base(compose))
	}
	if !o.Legacy {
		if v, ok := env.Value("JWT_SECRET"); ok && placeholderValue(v) {
			o.F.IO.Warnf("%s still holds the placeholder JWT_SECRET, which the stock compose file passes to Realtime, Storage and Functions: anyone can sign tokens with it", o.Env)
			o.F.IO.Hintf("rerun with --legacy --force to replace JWT_SECRET, ANON_KEY and SERVICE_ROLE_KEY (Kong needs the API keys)")
		}
	}
	if ignored, known := gitIgnored(o.Env); known && !ignored {
		o.F.IO.Warnf("%s holds private keys and is not ignored by git", o.Env)
	}
	return nil
}

var errKeyringNotEmpty = errors.New("keyring not empty")

// newLegacySecret makes a legacy JWT secret: 40 characters of base64url (30
// random bytes), which every service uses as the raw HMAC key.
func newLegacySecret() (string, *jwk.Key, error) {
	var b [30]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	k, err := jwk.FromCrypto([]byte(secret))
	if err != nil {
		return "", nil, err
	}
	k.KID = jwk.NewKID()
	return secret, k, nil
}

// legacyAPIKeys mints the anon and service_role API keys: HS256 with the
// legacy secret, no kid, as self-hosting guides make them.
func legacyAPIKeys(secret *jwk.Key, now time.Time, valid time.Duration) (anon, service string, err error) {
	k := &jwk.Key{Alg: jwk.HS256, Material: secret.Material}
	sg, err := jwt.NewSigner(k)
	if err != nil {
		return "", "", err
	}
	iat := now.Unix()
	exp := now.Add(valid).Unix()
	for _, role := range []string{"anon", "service_role"} {
		tok, err := sg.Sign(map[string]any{"iss": "supabase", "role": role, "iat": iat, "exp": exp})
		if err != nil {
			return "", "", err
		}
		if role == "anon" {
			anon = tok
		} else {
			service = tok
		}
	}
	return anon, service, nil
}

// composeOverride passes each service its variable.
func composeOverride() []byte {
	var b strings.Builder
	b.WriteString("# Written by keyctl supabase init-self-hosted: each service's keys from .env\n")
	b.WriteString("# (keyctl keys export --format env refreshes them). Use with:\n")
	b.WriteString("#   docker compose -f docker-compose.yml -f docker-compose.keyctl.yml up -d\n")
	b.WriteString("services:\n")
	composeName := map[string]string{"auth": "auth", "postgrest": "rest", "realtime": "realtime", "storage": "storage", "functions": "functions"}
	for _, s := range stack.Services {
		fmt.Fprintf(&b, "  %s:\n    environment:\n      %s: ${%s}\n", composeName[s.Name], s.Variable, s.Variable)
	}
	return []byte(b.String())
}
