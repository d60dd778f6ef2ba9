package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/keyctl/keyctl/internal/stack"
	"github.com/keyctl/keyctl/internal/store"
	"github.com/keyctl/keyctl/internal/ui"
	"github.com/keyctl/keyctl/pkg/jwk"
)

// The stack formats of keys export: what each service of a Supabase stack
// reads (internal/stack).

// exportFormats are keys export's --format values.
var exportFormats = []string{
	"supabase\tSupabase signing_keys.json",
	"gotrue\tAuth's GOTRUE_JWT_KEYS",
	"services-jwks\tthe JWKS PostgREST, Realtime, Storage and Functions verify with",
	"env\ta dotenv file with every service's variable",
	"pem\tone key as PEM: PKCS#8, or SPKI with --public",
}

// warnSupabaseAlgs warns for every EdDSA or HS256 key among keys going
// to Supabase (a keys file, GOTRUE_JWT_KEYS): the Supabase CLI takes
// ES256 and RS256 only, Auth's default list of allowed algorithms leaves
// EdDSA out (it signs EdDSA tokens, then refuses them at /user), and
// auth-js's getClaims verifies ES256 and RS256 only. The legacy secret
// (no kid) is Supabase's own and is not warned about.
func warnSupabaseAlgs(io *ui.IO, keys []*jwk.Key) {
	for _, k := range keys {
		switch {
		case k.KID == "":
		case k.Alg == jwk.EdDSA:
			io.Warnf("key %s is EdDSA: the Supabase CLI and auth-js take ES256 and RS256 only, and Supabase Auth refuses EdDSA tokens unless GOTRUE_JWT_VALID_METHODS lists it", k.KID)
		case k.Alg == jwk.HS256:
			io.Warnf("key %s is HS256: the Supabase CLI takes ES256 and RS256 only, and auth-js verifies HS256 tokens with a round trip to Auth", k.KID)
		}
	}
}

// runKeysExportStack exports the gotrue, services-jwks and env formats,
// or one service's value (--service without --format).
func runKeysExportStack(o *keysExportOptions) error {
	var svc stack.Service
	if o.Service != "" {
		s, ok := stack.LookupService(o.Service)
		if !ok {
			return withHint(&UsageError{Err: fmt.Errorf("--service %q: not a service of the stack", o.Service)}, "one of: %s", strings.Join(stack.ServiceNames(), ", "))
		}
		svc = s
		switch {
		case !o.formatSet:
			o.Format = "value"
		case o.Format != "env":
			return withHint(&UsageError{Err: fmt.Errorf("--service picks one variable of --format env, not of --format %s", o.Format)}, "keyctl keys export --service %s prints its value; add --format env for a NAME='value' line", o.Service)
		}
	}
	switch o.Format {
	case "gotrue", "services-jwks", "value", "env":
	default:
		return withHint(&UsageError{Err: fmt.Errorf("--format %q: not an export format", o.Format)}, "one of: supabase, gotrue, services-jwks, env, pem")
	}
	f, err := o.load(false)
	if err != nil {
		return err
	}
	if err := notTheKeyring(o.Out, f.Path); err != nil {
		return err
	}
	x, err := stack.Build(f.Keyring)
	if err != nil {
		if err == stack.ErrNoSigner {
			return withHint(fmt.Errorf("keyring %s: %w", f.Path, err), "put a key in use: keyctl keys rotate")
		}
		return keyringError(f.Path, err)
	}
	var data []byte
	merged := false // an existing env file updated in place
	switch o.Format {
	case "gotrue":
		data, err = x.AuthJSON()
		data = append(data, '\n')
	case "services-jwks":
		data, err = x.JWKSJSON()
		data = append(data, '\n')
	case "value":
		data, err = x.Value(svc)
		data = append(data, '\n')
	case "env":
		vars, verr := x.Variables()
		if verr != nil {
			return verr
		}
		if o.Service != "" {
			for _, v := range vars {
				if v.Name == svc.Variable {
					vars = []stack.Var{v}
				}
			}
		}
		data, err = stack.FormatEnv([]string{
			"Written by keyctl keys export --format env from keyring " + f.Path + ".",
			"Private keys and secrets: keep this file 0600 and out of git.",
		}, vars)
		if err == nil && o.Out != "" {
			// An existing env file (a compose project's .env) keeps every
			// other line byte for byte: only the stack's variables change.
			old, rerr := os.ReadFile(o.Out)
			isEnv := rerr == nil && stack.LooksLikeEnv(old)
			switch {
			case rerr == nil && !isEnv && !o.Force:
				return withHint(fmt.Errorf("%s is not an env file (NAME=value lines): not adding the stack's variables to it", o.Out), "choose the stack's env file with --out, or pass --force to replace %s", o.Out)
			case rerr == nil && !isEnv:
				// --force: replaced, not merged.
			case rerr == nil:
				env := stack.ParseEnvFile(old)
				for _, v := range vars {
					if err = env.Set(v.Name, v.Value); err != nil {
						break
					}
				}
				data = env.Bytes()
				merged = true
			case !errors.Is(rerr, fs.ErrNotExist):
				return fmt.Errorf("read %s: %w", o.Out, rerr)
			}
		}
	}
	if err != nil {
		return err
	}
	if x.Left != nil {
		o.IO.Infof("left out: %s", x.LeftOutWords())
	}
	if o.Format != "services-jwks" && (o.Service == "" || !svc.JWKS) {
		warnSupabaseAlgs(o.IO, x.Auth)
	}
	if x.HoldsSecret() && o.Format != "gotrue" && (o.Service == "" || svc.JWKS) {
		switch {
		case x.Legacy && len(x.Shared) == 0:
			o.IO.Warnf("the services' JWKS holds the legacy JWT secret (so legacy anon and service_role tokens keep working): it is private, never publish it")
		case !x.Legacy:
			o.IO.Warnf("the services' JWKS holds the HS256 secret of %s (so the services verify what Auth signs with it): it is private, never publish it", strings.Join(x.Shared, ", "))
		default:
			o.IO.Warnf("the services' JWKS holds the legacy JWT secret and the HS256 secret of %s: it is private, never publish it", strings.Join(x.Shared, ", "))
		}
	}
	if o.Out == "" {
		_, err = o.IO.Out.Write(data)
		return err
	}
	if err := requireDir(o.Out); err != nil {
		return err
	}
	if !merged {
		if err := confirmOverwrite(o.IO, o.Out, o.Force); err != nil {
			return err
		}
	}
	// Atomic: a reloader watching the directory (Auth with --config-dir)
	// sees the old file or the new one, never half of one.
	if err := store.WriteFileAtomic(o.Out, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", o.Out, err)
	}
	if merged {
		o.IO.Infof("updated the stack's variables in %s, every other line kept; %s signs", o.Out, x.Signer)
	} else {
		o.IO.Infof("wrote %s (%s); %s signs", o.Out, o.Format, x.Signer)
	}
	if ignored, known := gitIgnored(o.Out); known && !ignored {
		o.IO.Warnf("%s holds private keys and is not ignored by git", o.Out)
		o.IO.Hintf("add it to .gitignore: echo %s >> .gitignore", filepath.Base(o.Out))
	}
	return nil
}
