package cmd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyctl/keyctl/internal/store"
	"github.com/keyctl/keyctl/internal/ui"
	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/jwt"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// testFactory is a factory over buffers with env as the environment.
func testFactory(t *testing.T, env map[string]string) (*Factory, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	var out, errOut bytes.Buffer
	no := false
	f := &Factory{
		IO: &ui.IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, StdoutTTY: &no, StdinTTY: &no, StderrTTY: &no,
			Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }},
		Now: func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) },
	}
	return f, &out, &errOut
}

func runKeyctl(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	f, out, errOut := testFactory(t, env)
	code := Run(context.Background(), f, args)
	return out.String(), errOut.String(), code
}

func fixtureKey(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "testdata", "keyring", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// lifecycleKeyring builds a keyring with a key in every state and a legacy
// secret, through the commands.
func lifecycleKeyring(t *testing.T) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "keyring.json")
	env := map[string]string{"KEYCTL_KEYRING": path, "XDG_CONFIG_HOME": filepath.Join(dir, "config"), "USER": "unit"}
	steps := [][]string{
		{"keys", "migrate-legacy", "--secret-file", fixtureKey(t, "throwaway-legacy-jwt-secret.txt"), "--kid", "legacy", "--standby-kid", "es"},
		{"keys", "rotate", "--force", "es"},
		{"keys", "import", fixtureKey(t, "throwaway-rs256.json")},
		{"keys", "import", "--kid", "hs", "--secret-file", fixtureKey(t, "throwaway-hs256.json")},
		{"keys", "import", fixtureKey(t, "throwaway-es256-b.json")},
		{"keys", "revoke", "throwaway-es256-b"},
		{"keys", "import", fixtureKey(t, "throwaway-es256-c.json")},
		{"keys", "delete", "--yes", "throwaway-es256-c"},
	}
	for _, args := range steps {
		if _, stderr, code := runKeyctl(t, env, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
	}
	return path, env
}

// TestKeyringVerificationKeysContract pins what `keyctl verify` relies on.
func TestKeyringVerificationKeysContract(t *testing.T) {
	_, env := lifecycleKeyring(t)
	f, _, _ := testFactory(t, env)
	keys, err := keyringVerificationKeys(f)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]jwt.TrustedKey{}
	for _, k := range keys {
		got[k.Key.KID] = k
	}
	want := map[string]struct {
		state    string
		legacy   bool
		material bool
		alg      jwk.Algorithm
	}{
		"legacy":            {jwt.StatePreviouslyUsed, true, true, jwk.HS256},
		"es":                {jwt.StateInUse, false, true, jwk.ES256},
		"throwaway-rs256":   {jwt.StateStandby, false, true, jwk.RS256},
		"hs":                {jwt.StateStandby, false, true, jwk.HS256},
		"throwaway-es256-b": {jwt.StateRevoked, false, true, jwk.ES256},
		"throwaway-es256-c": {jwt.StateDeleted, false, false, jwk.ES256},
	}
	if len(got) != len(want) {
		t.Fatalf("%d keys, want %d", len(got), len(want))
	}
	for kid, w := range want {
		k, ok := got[kid]
		if !ok {
			t.Fatalf("no key %s", kid)
		}
		if k.State != w.state || k.Legacy != w.legacy || (k.Key.Material != nil) != w.material || k.Key.Alg != w.alg {
			t.Errorf("%s: state %s legacy %v material %v alg %s", kid, k.State, k.Legacy, k.Key.Material != nil, k.Key.Alg)
		}
		if k.Key.Material != nil && !k.Key.IsSymmetric() && k.Key.IsPrivate() {
			t.Errorf("%s: private material handed to the verifier", kid)
		}
	}

	// Encrypted, without a passphrase: the secrets come locked (no
	// material) with a warning, so they still decide which key a token
	// means; asymmetric keys come as usual.
	if _, stderr, code := runKeyctl(t, map[string]string{"KEYCTL_KEYRING": env["KEYCTL_KEYRING"], "KEYCTL_PASSPHRASE": "pw"}, "keys", "encrypt"); code != 0 {
		t.Fatal(stderr)
	}
	f, _, errOut := testFactory(t, env)
	keys, err = keyringVerificationKeys(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		secret := k.Key.KID == "legacy" || k.Key.KID == "hs"
		if secret && (!k.Locked || k.Key.Material != nil || k.Key.Alg != jwk.HS256) {
			t.Errorf("%s: locked %v, material %v without a passphrase", k.Key.KID, k.Locked, k.Key.Material != nil)
		}
		if !secret && k.Locked {
			t.Errorf("%s: an asymmetric key came locked", k.Key.KID)
		}
	}
	if len(keys) != 6 || !strings.Contains(errOut.String(), "shared secret(s) legacy, hs cannot be used without a passphrase") {
		t.Fatalf("%d keys; stderr %q", len(keys), errOut.String())
	}
	env["KEYCTL_PASSPHRASE"] = "pw"
	f, _, _ = testFactory(t, env)
	if keys, err = keyringVerificationKeys(f); err != nil || len(keys) != 6 {
		t.Fatalf("with the passphrase: %d keys, %v", len(keys), err)
	}
	env["KEYCTL_PASSPHRASE"] = "wrong"
	f, _, _ = testFactory(t, env)
	if _, err = keyringVerificationKeys(f); !errors.Is(err, store.ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
}

// TestKeyringSigningKeyContract pins what `keyctl gen bearer-jwt` relies on.
func TestKeyringSigningKeyContract(t *testing.T) {
	dir := t.TempDir()
	f, _, _ := testFactory(t, map[string]string{"KEYCTL_KEYRING": filepath.Join(dir, "none.json")})
	if _, err := keyringSigningKey(f, ""); !errors.Is(err, errNoKeyring) {
		t.Fatalf("missing keyring: %v", err)
	}
	_, env := lifecycleKeyring(t)
	f, _, _ = testFactory(t, env)
	k, err := keyringSigningKey(f, "")
	if err != nil || k.KID != "es" || !k.IsPrivate() || !k.HasOp(jwk.OpSign) {
		t.Fatalf("key in use: %+v %v", k, err)
	}
	if k, err = keyringSigningKey(f, "throwaway-rs256"); err != nil || k.KID != "throwaway-rs256" {
		t.Fatalf("standby key by kid: %v", err)
	}
	var nu *keyring.NotUsableError
	for _, kid := range []string{"throwaway-es256-b", "throwaway-es256-c", "legacy"} {
		if _, err := keyringSigningKey(f, kid); !errors.As(err, &nu) {
			t.Errorf("%s: %v", kid, err)
		}
	}
	if _, err := keyringSigningKey(f, "nope"); !errors.Is(err, keyring.ErrUnknownKID) {
		t.Fatalf("unknown kid: %v", err)
	}
	// The legacy secret signs without a kid.
	if _, stderr, code := runKeyctl(t, env, "keys", "standby", "legacy"); code != 0 {
		t.Fatal(stderr)
	}
	if k, err = keyringSigningKey(f, "legacy"); err != nil || k.KID != "" || k.Alg != jwk.HS256 {
		t.Fatalf("legacy: %+v %v", k, err)
	}
}

func TestKeyringPath(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("keyring: ~/from-config.json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		flag string
		env  map[string]string
		want string
	}{
		{"default", "", map[string]string{"XDG_CONFIG_HOME": "/x"}, "/x/keyctl/keyring.json"},
		{"config file", "", map[string]string{"XDG_CONFIG_HOME": "/x", "KEYCTL_CONFIG": cfg, "HOME": "/home/u"}, "/home/u/from-config.json"},
		{"env over config", "", map[string]string{"KEYCTL_KEYRING": "/env.json", "KEYCTL_CONFIG": cfg}, "/env.json"},
		{"flag over env", "/flag.json", map[string]string{"KEYCTL_KEYRING": "/env.json", "KEYCTL_CONFIG": cfg}, "/flag.json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, _, _ := testFactory(t, c.env)
			f.KeyringFlag = c.flag
			got, err := keyringPath(f)
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// TestLoadKeyringPublicSet pins what `keyctl serve` relies on: no
// passphrase, public keys only, errNoKeyring for a missing file.
func TestLoadKeyringPublicSet(t *testing.T) {
	path, env := lifecycleKeyring(t)
	if _, stderr, code := runKeyctl(t, map[string]string{"KEYCTL_KEYRING": env["KEYCTL_KEYRING"], "KEYCTL_PASSPHRASE": "pw"}, "keys", "encrypt"); code != 0 {
		t.Fatal(stderr)
	}
	f, _, _ := testFactory(t, nil)
	set, _, err := loadKeyringPublicSet(f, path)
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		if k.IsPrivate() {
			t.Fatalf("%s is private", k.KID)
		}
		kids = append(kids, k.KID)
	}
	if strings.Join(kids, ",") != "es,throwaway-rs256" {
		t.Fatalf("kids %v", kids)
	}
	if _, _, err := loadKeyringPublicSet(f, filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, errNoKeyring) {
		t.Fatalf("missing: %v", err)
	}
}

// TestDeleteAsksOnATerminal: the confirmation path of keys delete, with a
// terminal faked by the IO overrides.
func TestDeleteAsksOnATerminal(t *testing.T) {
	_, env := lifecycleKeyring(t)
	for _, c := range []struct {
		answer string
		code   int
		state  keyring.State
	}{{"n\n", 1, keyring.Standby}, {"", 1, keyring.Standby}, {"yes\n", 0, keyring.Deleted}} {
		f, _, errOut := testFactory(t, env)
		yes := true
		f.IO.StdinTTY, f.IO.StderrTTY = &yes, &yes
		f.IO.In = strings.NewReader(c.answer)
		code := Run(context.Background(), f, []string{"keys", "delete", "hs"})
		if code != c.code || !strings.Contains(errOut.String(), "Delete key hs?") {
			t.Fatalf("answer %q: exit %d, stderr %q", c.answer, code, errOut.String())
		}
		file, err := store.Load(env["KEYCTL_KEYRING"], store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if e, _ := file.Keyring.Lookup("hs"); e.State != c.state {
			t.Fatalf("answer %q: hs is %s", c.answer, e.State)
		}
	}
}

// A history entry's actor comes from $USER, which can hold anything: keys
// show must not let a tab or newline in it forge fields or lines of its
// text output, nor control characters reach a terminal raw.
func TestKeysShowKeepsHistoryValuesInTheirField(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"KEYCTL_KEYRING": filepath.Join(dir, "keyring.json"), "USER": "eve\tstate\tin_use\nkid\tforged\x1b[2J"}
	if _, errOut, code := runKeyctl(t, env, "keys", "create", "--kid", "k3"); code != 0 {
		t.Fatalf("keys create: exit %d: %s", code, errOut)
	}
	out, errOut, code := runKeyctl(t, env, "keys", "show", "k3", "-o", "text")
	if code != 0 {
		t.Fatalf("keys show: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	kids := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "kid\t") {
			kids++
		}
		if strings.HasPrefix(l, "history\t") && strings.Count(l, "\t") != 2 {
			t.Errorf("history line with extra fields: %q", l)
		}
	}
	if kids != 1 || !strings.HasSuffix(lines[len(lines)-1], "by eve state in_use kid forged\x1b[2J@"+hostname()) {
		t.Errorf("text output forged by $USER:\n%s", out)
	}
	out, _, _ = runKeyctl(t, env, "keys", "show", "k3", "-o", "table")
	if strings.ContainsAny(out, "\x1b\t") || !strings.Contains(out, `eve\tstate\tin_use\nkid\tforged\x1b[2J@`) {
		t.Errorf("terminal output carries control characters raw:\n%q", out)
	}
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return h
}

// Every writer of a keys file takes its lock: keys export waits for a
// gen signing-key --append that holds it, rather than racing it (one of
// the two writes would be lost).
func TestKeysExportWaitsForTheKeysFileLock(t *testing.T) {
	_, env := lifecycleKeyring(t)
	out := filepath.Join(t.TempDir(), "signing_keys.json")
	unlock, err := store.LockFile(out, "keys file", 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int)
	go func() {
		_, _, code := runKeyctl(t, env, "keys", "export", "--out", out)
		done <- code
	}()
	select {
	case code := <-done:
		unlock()
		t.Fatalf("export finished (exit %d) while another writer held the lock", code)
	case <-time.After(500 * time.Millisecond):
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("export wrote while another writer held the lock: %v", err)
	}
	unlock()
	if code := <-done; code != 0 {
		t.Fatalf("export after the lock was released: exit %d", code)
	}
}
