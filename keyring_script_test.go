package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyctl/keyctl/internal/store"
	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
)

func init() {
	// keyctl refuses a keyring, keys file or config file in a directory
	// group or others can write; the scripts make their directories with
	// the process umask, so a umask of 002 (common for users with a
	// private group) would make them all refused.
	syscall.Umask(0o022)
	scriptCmds["keyringshift"] = cmdKeyringShift
	scriptCmds["keyringsettime"] = cmdKeyringSetTime
	scriptCmds["keyringcheck"] = cmdKeyringCheck
	scriptCmds["jwkskids"] = cmdJWKSKids
	scriptCmds["lockkeyring"] = cmdLockKeyring
	scriptCmds["unlockkeyring"] = cmdUnlockKeyring
	scriptCmds["filemode"] = cmdFileMode
	scriptCmds["islink"] = cmdIsLink
	scriptSetups = append(scriptSetups, func(env *testscript.Env) error {
		dir, err := filepath.Abs(filepath.Join("testdata", "keyring"))
		if err != nil {
			return err
		}
		env.Setenv("KEYRING_FIXTURES", dir)
		// A fixed user for the history's user@host; ACTOR is what golden
		// files expect (cmpenv), since the host is the machine's.
		env.Setenv("USER", "tester")
		host, _ := os.Hostname()
		host, _, _ = strings.Cut(host, ".")
		env.Setenv("ACTOR", "tester@"+host)
		return nil
	})
}

// rewriteTimes changes every time in the keyring (keys and history) with
// fn, through the store, so the file stays valid and private.
func rewriteTimes(ts *testscript.TestScript, file string, fn func(time.Time) time.Time) {
	_, err := store.Update(ts.MkAbs(file), store.Options{LockTimeout: 5 * time.Second}, func(kr *keyring.Keyring) error {
		for _, e := range kr.Keys {
			e.Created, e.Updated = fn(e.Created), fn(e.Updated)
			if !e.RotatedOut.IsZero() {
				e.RotatedOut = fn(e.RotatedOut)
			}
			if !e.Published.IsZero() {
				e.Published = fn(e.Published)
			}
		}
		for i := range kr.History {
			kr.History[i].At = fn(kr.History[i].At)
		}
		return nil
	})
	ts.Check(err)
}

// keyringshift FILE DURATION: as if DURATION had passed, every time in the
// keyring moves that far into the past. Scripts test the revocation wait
// this way, with no test-only clock in keyctl.
func cmdKeyringShift(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: keyringshift FILE DURATION")
	}
	d, err := time.ParseDuration(args[1])
	ts.Check(err)
	rewriteTimes(ts, args[0], func(t time.Time) time.Time { return t.Add(-d) })
}

// keyringsettime FILE TIME: every time in the keyring becomes TIME (RFC
// 3339), for golden files.
func cmdKeyringSetTime(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: keyringsettime FILE TIME")
	}
	at, err := time.Parse(time.RFC3339, args[1])
	ts.Check(err)
	rewriteTimes(ts, args[0], func(time.Time) time.Time { return at })
}

// keyringcheck FILE N [KID=STATE...]: FILE is a whole, valid keyring
// (every key parses and matches, the history reads), mode 0600 in a
// directory no one else can enter, with N keys, and each KID in STATE.
func cmdKeyringCheck(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: keyringcheck FILE N [KID=STATE...]")
	}
	err := checkKeyring(ts.MkAbs(args[0]), args[1], args[2:], os.Getenv("KEYCTL_PASSPHRASE"))
	if neg {
		if err == nil {
			ts.Fatalf("keyring is fine")
		}
		return
	}
	ts.Check(err)
}

func checkKeyring(path, n string, states []string, passphrase string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Mode().Perm() != 0o600 {
		return fmt.Errorf("mode %04o, want 0600", st.Mode().Perm())
	}
	opts := store.Options{History: true}
	if passphrase != "" {
		opts.Passphrase = func() ([]byte, error) { return []byte(passphrase), nil }
	}
	f, err := store.Load(path, opts)
	if err != nil {
		return err
	}
	if err := f.Keyring.Validate(); err != nil {
		return err
	}
	if want, _ := strconv.Atoi(n); len(f.Keyring.Keys) != want {
		return fmt.Errorf("%d keys, want %s", len(f.Keyring.Keys), n)
	}
	for _, kv := range states {
		kid, state, _ := strings.Cut(kv, "=")
		e, err := f.Keyring.Lookup(kid)
		if err != nil {
			return err
		}
		if string(e.State) != state {
			return fmt.Errorf("key %s is %s, want %s", kid, e.State, state)
		}
	}
	return nil
}

// jwkskids FILE [KID...]: FILE is one line holding a public JWKS whose kids
// are exactly KID... (any order), each key public, with alg, use "sig" and
// key_ops ["verify"], as a verifier (and Supabase's clients) expect.
func cmdJWKSKids(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: jwkskids FILE [KID...]")
	}
	data := ts.ReadFile(args[0])
	if strings.Count(strings.TrimRight(data, "\n"), "\n") != 0 {
		ts.Fatalf("the JWKS spans several lines")
	}
	set, err := jwk.ParseSet([]byte(data), jwk.ParseSetOptions{})
	ts.Check(err)
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	ts.Check(json.Unmarshal([]byte(data), &raw))
	var kids []string
	for i, k := range set.Keys {
		m := raw.Keys[i]
		if k.Use != "sig" || !slices.Equal(k.KeyOps, []string{"verify"}) || m["alg"] == nil || k.KID == "" {
			ts.Fatalf("key %d: use %q key_ops %v alg %v kid %q", i, k.Use, k.KeyOps, m["alg"], k.KID)
		}
		for _, member := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := m[member]; ok {
				ts.Fatalf("key %s carries private member %q", k.KID, member)
			}
		}
		kids = append(kids, k.KID)
	}
	want := slices.Clone(args[1:])
	sort.Strings(kids)
	sort.Strings(want)
	if slices.Equal(kids, want) == neg {
		ts.Fatalf("JWKS kids %v, want %s%v", kids, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// lockkeyring FILE: hold FILE's writer lock, as another keyctl would,
// until unlockkeyring FILE or the end of the script.
func cmdLockKeyring(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: lockkeyring FILE")
	}
	f, err := os.OpenFile(ts.MkAbs(args[0])+store.LockSuffix, os.O_RDWR|os.O_CREATE, 0o600)
	ts.Check(err)
	ts.Check(syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB))
	locks := lockTable(ts)
	locks.Lock()
	locks.files[args[0]] = f
	locks.Unlock()
	ts.Defer(func() { f.Close() })
}

func cmdUnlockKeyring(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: unlockkeyring FILE")
	}
	locks := lockTable(ts)
	locks.Lock()
	defer locks.Unlock()
	f, ok := locks.files[args[0]]
	if !ok {
		ts.Fatalf("%s is not locked", args[0])
	}
	f.Close()
	delete(locks.files, args[0])
}

type scriptLocks struct {
	sync.Mutex
	files map[string]*os.File
}

var allLocks sync.Map // script work dir -> *scriptLocks

func lockTable(ts *testscript.TestScript) *scriptLocks {
	v, _ := allLocks.LoadOrStore(ts.MkAbs("."), &scriptLocks{files: map[string]*os.File{}})
	return v.(*scriptLocks)
}

// filemode PATH MODE: PATH has permission bits MODE (octal).
func cmdFileMode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: filemode PATH MODE")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	st, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	if (st.Mode().Perm() == os.FileMode(want)) == neg {
		ts.Fatalf("%s has mode %04o, want %s%04o", args[0], st.Mode().Perm(), map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// keyringProcEnv is the environment of keyctl processes run by the Go tests
// below: the test's own (PATH finds keyctl, set up by testscript.Main),
// with a private home and the keyring at path.
func keyringProcEnv(t *testing.T, path string) []string {
	home := t.TempDir()
	return append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home+"/.config", "KEYCTL_KEYRING="+path, "NO_COLOR=1", "USER=tester")
}

// TestKeyringConcurrentCreate: 50 keyctl processes each create a key at
// once; the keyring ends with exactly 50 more keys and is whole and valid.
func TestKeyringConcurrentCreate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 50 processes")
	}
	path := filepath.Join(t.TempDir(), "keyring", "keyring.json")
	env := keyringProcEnv(t, path)
	// Two keys first, so the processes add to an existing keyring.
	for _, kid := range []string{"first", "second"} {
		c := exec.Command("keyctl", "keys", "create", "--kid", kid)
		c.Env = env
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("keys create: %v\n%s", err, out)
		}
	}
	const n = 50
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := exec.Command("keyctl", "keys", "create", "--kid", fmt.Sprintf("p%02d", i), "--lock-timeout", "60s")
			c.Env = env
			<-start
			if out, err := c.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("process %d: %v\n%s", i, err, out)
			}
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if err := checkKeyring(path, strconv.Itoa(n+2), nil, ""); err != nil {
		t.Fatal(err)
	}
	f, _ := store.Load(path, store.Options{History: true})
	if got := len(f.Keyring.History); got != n+2 {
		t.Fatalf("%d history events, want %d", got, n+2)
	}
	for i := range n {
		if _, err := f.Keyring.Lookup(fmt.Sprintf("p%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKeyringTwoLinksConcurrentCreate: two symlinks in two directories
// lead to one keyring; 50 processes create a key through each at once. The
// writers share one lock (the target's), so the target ends with all 100
// keys and both links stay links.
func TestKeyringTwoLinksConcurrentCreate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 100 processes")
	}
	root := t.TempDir()
	target := filepath.Join(root, "srv", "keyring.json")
	links := []string{filepath.Join(root, "a", "keyring.json"), filepath.Join(root, "b", "keyring.json")}
	for _, dir := range []string{"srv", "a", "b"} {
		if err := os.Mkdir(filepath.Join(root, dir), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range links {
		if err := os.Symlink("../srv/keyring.json", l); err != nil {
			t.Fatal(err)
		}
	}
	c := exec.Command("keyctl", "keys", "create", "--kid", "first")
	c.Env = keyringProcEnv(t, target)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("keys create: %v\n%s", err, out)
	}
	const n = 50
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 2*n)
	for l, link := range links {
		env := keyringProcEnv(t, link)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := exec.Command("keyctl", "keys", "create", "--kid", fmt.Sprintf("l%d-%02d", l, i), "--lock-timeout", "60s")
				c.Env = env
				<-start
				if out, err := c.CombinedOutput(); err != nil {
					errs[l*n+i] = fmt.Errorf("link %d process %d: %v\n%s", l, i, err, out)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for _, l := range links {
		if st, err := os.Lstat(l); err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("%s is no longer a symlink (%v)", l, err)
		}
	}
	if err := checkKeyring(target, strconv.Itoa(2*n+1), nil, ""); err != nil {
		t.Fatal(err)
	}
}

// TestKeyringKilledWriters kills keyctl writers with SIGKILL at random
// moments, many times; after every kill the keyring is the old one or the
// new one, whole and valid, and the next writer cleans up after it.
func TestKeyringKilledWriters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts many processes")
	}
	path := filepath.Join(t.TempDir(), "keyring.json")
	env := keyringProcEnv(t, path)
	// Some bulk, so writes take a moment and kills land inside them. The
	// keys file is a regular file: keyctl refuses to read keys from a pipe.
	bulk := filepath.Join(t.TempDir(), "bulk.json")
	if err := os.WriteFile(bulk, []byte(bulkKeysFile(t, 150)), 0o600); err != nil {
		t.Fatal(err)
	}
	c := exec.Command("keyctl", "keys", "import-supabase", bulk)
	c.Env = env
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	keys := 150
	// Time one undisturbed writer; kills then land anywhere in such a run.
	begin := time.Now()
	c = exec.Command("keyctl", "keys", "create", "--kid", "timed")
	c.Env = env
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("keys create: %v\n%s", err, out)
	}
	span := time.Since(begin)
	keys++
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	const rounds = 30
	killed, finished := 0, 0
	for i := range rounds {
		c := exec.Command("keyctl", "keys", "create", "--kid", fmt.Sprintf("k%03d", i))
		c.Env = env
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		// Anywhere from before the process is up to just after it is done.
		time.Sleep(time.Duration(rng.Int64N(int64(span) * 11 / 10)))
		c.Process.Signal(syscall.SIGKILL)
		err := c.Wait()
		if err == nil {
			finished++
		} else {
			killed++
		}
		f, err := store.Load(path, store.Options{History: true})
		if err != nil {
			t.Fatalf("round %d: keyring unreadable after a kill: %v", i, err)
		}
		if err := f.Keyring.Validate(); err != nil {
			t.Fatalf("round %d: keyring invalid after a kill: %v", i, err)
		}
		got := len(f.Keyring.Keys)
		if got != keys && got != keys+1 {
			t.Fatalf("round %d: %d keys, want %d (old) or %d (new)", i, got, keys, keys+1)
		}
		keys = got
	}
	t.Logf("%d writers killed, %d finished first", killed, finished)
	if killed == 0 {
		t.Fatal("no writer was killed: the test proved nothing")
	}
	// A finished writer leaves no temporary file behind, killed ones' are
	// cleaned by the next.
	c = exec.Command("keyctl", "keys", "create", "--kid", "last")
	c.Env = env
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("keys create: %v\n%s", err, out)
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".keyctl-tmp-*"))
	if len(matches) > 0 {
		t.Fatalf("temporary files left: %v", matches)
	}
}

// bulkKeysFile makes a Supabase keys file of n ES256 keys, the first
// signing.
func bulkKeysFile(t *testing.T, n int) string {
	var keys []*jwk.Key
	for i := range n {
		k, err := jwk.Generate(jwk.ES256, jwk.GenerateOptions{KID: fmt.Sprintf("bulk-%03d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			keys = append(keys, k.WithOps("sign", "verify"))
		} else {
			keys = append(keys, k.WithOps("verify"))
		}
	}
	data, err := json.Marshal(keys)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// islink PATH: PATH is a symbolic link.
func cmdIsLink(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: islink PATH")
	}
	st, err := os.Lstat(ts.MkAbs(args[0]))
	ts.Check(err)
	if (st.Mode()&os.ModeSymlink != 0) == neg {
		ts.Fatalf("%s: mode %v, want %sa symlink", args[0], st.Mode(), map[bool]string{true: "not ", false: ""}[neg])
	}
}

// runKeyctl runs the keyctl binary with env and args, at most 10 seconds,
// and returns its exit code and stderr.
func runKeyctl(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, "keyctl", args...)
	c.Env = env
	var stderr strings.Builder
	c.Stderr = &stderr
	begin := time.Now()
	err := c.Run()
	if ctx.Err() != nil {
		t.Fatalf("keyctl %s: still running after %s (killed)", strings.Join(args, " "), time.Since(begin).Round(time.Millisecond))
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stderr.String()
}

// TestTrustedFilesOwnedByOthers: a keyring, a keys file or key file used to
// sign, and a config file that belong to another user are refused, with
// the chown that fixes it, as are files in a directory another user owns.
func TestTrustedFilesOwnedByOthers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
	dir := t.TempDir()
	ring := filepath.Join(dir, "ring", "keyring.json")
	env := keyringProcEnv(t, ring)
	for _, args := range [][]string{
		{"keys", "create", "--kid", "a"},
		{"keys", "rotate", "a"},
		{"gen", "signing-key", "--keys-file", filepath.Join(dir, "kf", "signing_keys.json")},
	} {
		os.MkdirAll(filepath.Join(dir, "kf"), 0o700)
		if code, stderr := runKeyctl(t, env, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
	}
	key := filepath.Join(dir, "kd", "key.json")
	os.MkdirAll(filepath.Dir(key), 0o700)
	c := exec.Command("keyctl", "gen", "signing-key")
	c.Env = env
	out, err := c.Output()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(key, out, 0o600)
	conf := filepath.Join(dir, "conf", "config.yaml")
	os.MkdirAll(filepath.Dir(conf), 0o700)
	os.WriteFile(conf, []byte("algorithm: ES256\n"), 0o600)

	cases := []struct {
		name, file, what string
		args             []string
	}{
		{"keyring", ring, "keyring", []string{"gen", "bearer-jwt", "--role", "anon"}},
		{"keyring write", ring, "keyring", []string{"keys", "create"}},
		{"keys file", filepath.Join(dir, "kf", "signing_keys.json"), "keys file", []string{"gen", "bearer-jwt", "--role", "anon", "--keys-file", filepath.Join(dir, "kf", "signing_keys.json")}},
		{"key", key, "key", []string{"gen", "bearer-jwt", "--role", "anon", "--key", key}},
		{"config", conf, "config file", []string{"--config", conf, "keys", "list"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, target := range []string{tc.file, filepath.Dir(tc.file)} {
				if code, stderr := runKeyctl(t, env, tc.args...); code != 0 {
					t.Fatalf("before chown: exit %d\n%s", code, stderr)
				}
				if err := os.Chown(target, 65534, 65534); err != nil {
					t.Fatal(err)
				}
				code, stderr := runKeyctl(t, env, tc.args...)
				os.Chown(target, 0, 0)
				if code != 1 {
					t.Fatalf("%s owned by 65534: exit %d, want 1\n%s", target, code, stderr)
				}
				lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
				if len(lines) != 2 || !strings.Contains(lines[0], tc.what+" ") || !strings.Contains(lines[0], target+" is owned by another user (uid 65534)") || !strings.HasPrefix(lines[1], "hint: ") || !strings.Contains(lines[1], "chown") {
					t.Fatalf("%s owned by 65534: stderr\n%s", target, stderr)
				}
			}
		})
	}
}

// TestTrustedFilesFIFO: a FIFO where keyctl expects the keyring, a keys
// file, a key file or the config file is refused at once, with its own
// message, instead of hanging keyctl until someone writes to it.
func TestTrustedFilesFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	tok := "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"
	cases := []struct {
		name string
		env  []string
		args []string
	}{
		{"keyring read", keyringProcEnv(t, fifo), []string{"keys", "list"}},
		{"keyring jwks", keyringProcEnv(t, fifo), []string{"jwks"}},
		{"keyring sign", keyringProcEnv(t, fifo), []string{"gen", "bearer-jwt", "--role", "anon"}},
		{"keyring write", keyringProcEnv(t, fifo), []string{"keys", "create"}},
		{"keys file", keyringProcEnv(t, filepath.Join(dir, "k.json")), []string{"gen", "bearer-jwt", "--role", "anon", "--keys-file", fifo}},
		{"key sign", keyringProcEnv(t, filepath.Join(dir, "k.json")), []string{"gen", "bearer-jwt", "--role", "anon", "--key", fifo}},
		{"key verify", keyringProcEnv(t, filepath.Join(dir, "k.json")), []string{"verify", "--key", fifo, tok}},
		{"config flag", keyringProcEnv(t, filepath.Join(dir, "k.json")), []string{"--config", fifo, "keys", "list"}},
		{"config env", append(keyringProcEnv(t, filepath.Join(dir, "k.json")), "KEYCTL_CONFIG="+fifo), []string{"keys", "list"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			begin := time.Now()
			code, stderr := runKeyctl(t, tc.env, tc.args...)
			if took := time.Since(begin); took > 5*time.Second {
				t.Errorf("took %s", took)
			}
			if code != 1 || !strings.Contains(stderr, fifo+" is a named pipe (FIFO), not a regular file") || strings.Count(stderr, "\n") != 2 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
		})
	}
}
