package cmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/keysfile"
	"github.com/keyctl/keyctl/internal/stack"
	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// --- supabase doctor ---

type supabaseDoctorOptions struct {
	F       *Factory
	Dir     string
	Env     string
	keyring bool
}

func newSupabaseDoctorCmd(f *Factory) *cobra.Command {
	o := &supabaseDoctorOptions{F: f}
	c := &cobra.Command{
		Use:   "doctor [DIR]",
		Short: "Check that every service of a Supabase project trusts the same keys",
		Long: `Read a Supabase project (DIR, default the current directory) and say what
each service will trust, and whether they agree:

  supabase/config.toml and the keys file it names ([auth]
  signing_keys_path, else supabase/signing_keys.json): what the Supabase CLI
  gives Auth; --env FILE (default DIR/.env, or DIR/docker/.env): the five
  variables of a compose stack (GOTRUE_JWT_KEYS, PGRST_JWT_SECRET,
  API_JWT_JWKS, JWT_JWKS, SUPABASE_JWKS); the keyring (--keyring, when it
  exists).

It checks that exactly one key signs, that every service trusts the same
keys (compared by RFC 7638 thumbprint, not by kid), that they agree with the
keyring (its key in use trusted everywhere, no revoked key still trusted),
that a standby key is trusted everywhere before anyone rotates to it, and
that a keys file holding private keys is ignored by git.

Exit 0 when everything agrees; 1 with one line per problem otherwise.`,
		Example: `  keyctl supabase doctor
  keyctl supabase doctor ./docker --env ./docker/.env --keyring ./docker/keyring.json`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &UsageError{Err: fmt.Errorf("supabase doctor takes at most one DIR (got %d arguments)", len(args))}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			o.Dir = "."
			if len(args) == 1 {
				o.Dir = args[0]
			}
			o.keyring = c.Flags().Changed("keyring")
			return runSupabaseDoctor(o)
		},
	}
	addKeyringFlag(c, f)
	c.Flags().StringVar(&o.Env, "env", "", "the compose stack's env file (default DIR/.env, else DIR/docker/.env)")
	return c
}

// trustSet is what one service trusts: thumbprint -> kid, and its signer.
type trustSet struct {
	name    string
	source  string
	keys    map[string]string // thumbprint -> kid ("" for a kid-less secret)
	signers []string
}

func (t *trustSet) words() string {
	var kids []string
	for _, kid := range t.keys {
		if kid == "" {
			kid = "(legacy secret)"
		}
		kids = append(kids, kid)
	}
	sort.Strings(kids)
	return strings.Join(kids, ", ")
}

func newTrustSet(name, source string, keys []*jwk.Key) (*trustSet, error) {
	t := &trustSet{name: name, source: source, keys: map[string]string{}}
	for _, k := range keys {
		tp, err := publicThumbprint(k)
		if err != nil {
			return nil, fmt.Errorf("%s: key %q: %w", source, k.KID, err)
		}
		t.keys[tp] = k.KID
		if k.IsPrivate() && k.HasOp(jwk.OpSign) && len(k.KeyOps) > 0 {
			t.signers = append(t.signers, k.KID)
		}
	}
	return t, nil
}

// publicThumbprint identifies a key by its public half (a secret by itself).
func publicThumbprint(k *jwk.Key) (string, error) {
	if !k.IsSymmetric() && k.IsPrivate() {
		pub, err := k.Public()
		if err != nil {
			return "", err
		}
		k = pub
	}
	return k.Thumbprint()
}

func runSupabaseDoctor(o *supabaseDoctorOptions) error {
	if st, err := os.Stat(o.Dir); err != nil || !st.IsDir() {
		return withHint(fmt.Errorf("no project directory %s", o.Dir), "run it in a Supabase project, or name one: keyctl supabase doctor DIR")
	}
	out := o.F.IO.Out
	var problems []string
	problem := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var sets []*trustSet

	// The Supabase CLI's keys file.
	keysPath := filepath.Join(o.Dir, "supabase", "signing_keys.json")
	if data, err := os.ReadFile(filepath.Join(o.Dir, "supabase", "config.toml")); err == nil {
		var cfg struct {
			Auth struct {
				SigningKeysPath string `toml:"signing_keys_path"`
			} `toml:"auth"`
		}
		if err := toml.Unmarshal(data, &cfg); err != nil {
			problem("supabase/config.toml: %v", oneLine(err.Error()))
		} else if p := cfg.Auth.SigningKeysPath; p != "" {
			if !filepath.IsAbs(p) {
				p = filepath.Join(o.Dir, "supabase", p)
			}
			keysPath = p
		}
	}
	if keys, err := keysfile.Read(keysPath); err == nil {
		t, err := newTrustSet("auth (supabase start)", keysPath, keys)
		if err != nil {
			problem("%v", err)
		} else {
			sets = append(sets, t)
			if ignored, known := gitIgnored(keysPath); known && !ignored {
				problem("%s holds private keys and is not ignored by git (echo %s >> .gitignore)", keysPath, filepath.Base(keysPath))
			}
			for _, k := range keys {
				if k.Alg == jwk.EdDSA || k.Alg == jwk.HS256 {
					problem("%s: key %s is %s; the Supabase CLI and auth-js accept ES256 and RS256 only", keysPath, k.KID, k.Alg)
				}
			}
		}
	} else if !errors.Is(err, keysfile.ErrNotFound) {
		problem("%s: %v", keysPath, oneLine(err.Error()))
	}

	// A compose stack's env file.
	envPath := o.Env
	if envPath == "" {
		for _, p := range []string{filepath.Join(o.Dir, ".env"), filepath.Join(o.Dir, "docker", ".env")} {
			if _, err := os.Stat(p); err == nil {
				envPath = p
				break
			}
		}
	}
	if envPath != "" {
		data, err := os.ReadFile(envPath)
		if err != nil {
			problem("%s: %v", envPath, oneLine(err.Error()))
		}
		env := stack.ParseEnvFile(data)
		for _, s := range stack.Services {
			raw, ok := env.Value(s.Variable)
			if !ok {
				problem("%s: %s is not set: %s does not get the keyring's keys", envPath, s.Variable, s.Label)
				continue
			}
			value := unquoteEnv(raw)
			var keys []*jwk.Key
			if s.JWKS {
				set, err := jwk.ParseSet([]byte(value), jwk.ParseSetOptions{AllowPrivate: true})
				if err != nil {
					problem("%s: %s is not a JWKS: %v", envPath, s.Variable, oneLine(err.Error()))
					continue
				}
				keys = set.Keys
			} else {
				keys, err = jwk.ParseArray([]byte(value))
				if err != nil {
					problem("%s: %s is not a JSON array of JWKs: %v", envPath, s.Variable, oneLine(err.Error()))
					continue
				}
			}
			t, err := newTrustSet(strings.ToLower(s.Label), envPath+" "+s.Variable, keys)
			if err != nil {
				problem("%v", err)
				continue
			}
			sets = append(sets, t)
		}
	}

	// The keyring.
	var kr *keyring.Keyring
	var keyringLoc string
	if h, err := loadKeyring(o.F, false); err == nil {
		kr, keyringLoc = h.Keyring, h.Path
	} else if !errors.Is(err, errNoKeyring) || o.keyring {
		problem("%v", oneLine(err.Error()))
	}

	if len(sets) == 0 {
		// The keyring alone says nothing about what the services trust.
		return withHint(fmt.Errorf("nothing to check in %s: no supabase/signing_keys.json and no .env", o.Dir), "run it in a Supabase project, or name the env file: --env FILE")
	}

	for _, t := range sets {
		fmt.Fprintf(out, "%s\t%s\ttrusts %s\n", t.name, t.source, t.words())
		if strings.HasPrefix(t.name, "auth") {
			switch len(t.signers) {
			case 1:
			case 0:
				problem("%s: no key has \"sign\" in key_ops: Auth will not start", t.source)
			default:
				problem("%s: %d keys have \"sign\" in key_ops (%s): Auth will not start", t.source, len(t.signers), strings.Join(t.signers, ", "))
			}
		}
	}
	// Every service against the first.
	for _, t := range sets[min(1, len(sets)):] {
		first := sets[0]
		for tp, kid := range first.keys {
			if _, ok := t.keys[tp]; !ok {
				problem("%s trusts %s but %s does not", first.name, kidWords(kid), t.name)
			}
		}
		for tp, kid := range t.keys {
			if _, ok := first.keys[tp]; !ok {
				problem("%s trusts %s but %s does not", t.name, kidWords(kid), first.name)
			}
		}
	}
	if kr != nil {
		fmt.Fprintf(out, "keyring\t%s\t%s\n", keyringLoc, keyringWords(kr))
		problems = append(problems, keyringAgreement(kr, sets)...)
	}
	if len(problems) == 0 {
		fmt.Fprintln(out, "ok: every service trusts the same keys, and exactly one signs")
		return nil
	}
	for _, p := range problems {
		fmt.Fprintln(out, "problem: "+p)
	}
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d problem(s) found", len(problems))}
}

func kidWords(kid string) string {
	if kid == "" {
		return "the legacy secret"
	}
	return "key " + kid
}

func keyringWords(kr *keyring.Keyring) string {
	var parts []string
	for _, e := range kr.Keys {
		parts = append(parts, e.KID+" "+string(e.State))
	}
	return strings.Join(parts, ", ")
}

// keyringAgreement compares the services with the keyring: its key in use
// trusted (and signing, for Auth) everywhere, its standby keys trusted
// everywhere before a rotation, no revoked key trusted anywhere.
func keyringAgreement(kr *keyring.Keyring, sets []*trustSet) []string {
	var problems []string
	for _, e := range kr.Keys {
		if e.Material == nil {
			continue
		}
		pub, err := e.Material.Public()
		if err != nil {
			continue
		}
		tp, err := pub.Thumbprint()
		if err != nil {
			continue
		}
		for _, t := range sets {
			_, trusted := t.keys[tp]
			switch {
			case e.State == keyring.Revoked && trusted:
				problems = append(problems, fmt.Sprintf("%s still trusts key %s, which the keyring revoked: export the keys again (keyctl keys export --format env)", t.name, e.KID))
			case e.State == keyring.InUse && !trusted:
				problems = append(problems, fmt.Sprintf("%s does not trust key %s, the keyring's key in use: its tokens are rejected there", t.name, e.KID))
			case e.State == keyring.InUse && strings.HasPrefix(t.name, "auth") && len(t.signers) == 1 && t.keys[tp] != t.signers[0] && !e.Legacy:
				problems = append(problems, fmt.Sprintf("%s signs with %s, but the keyring's key in use is %s", t.name, t.signers[0], e.KID))
			case e.State == keyring.Standby && !trusted:
				problems = append(problems, fmt.Sprintf("%s does not trust standby key %s yet: do not rotate to it before every service does", t.name, e.KID))
			case e.State == keyring.PreviouslyUsed && !trusted:
				problems = append(problems, fmt.Sprintf("%s no longer trusts key %s, whose tokens may still be valid", t.name, e.KID))
			}
		}
	}
	return problems
}

// unquoteEnv reads a dotenv value as compose does for the forms keyctl
// and people write: 'literal', "quoted" (with \" and \\), or bare.
func unquoteEnv(v string) string {
	v = strings.TrimSpace(v)
	switch {
	case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
		return v[1 : len(v)-1]
	case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
		return strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(v[1 : len(v)-1])
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v
}
