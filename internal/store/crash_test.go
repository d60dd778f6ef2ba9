package store

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// crashHelperEnv makes the test binary a writer that adds keys to the
// keyring it names, as fast as it can, until it is killed.
const crashHelperEnv = "KEYCTL_STORE_CRASH_HELPER"

// crashNamedEnv makes the writer use named temporary files (the fallback
// where O_TMPFILE is missing) instead of unnamed ones.
const crashNamedEnv = "KEYCTL_STORE_CRASH_NAMED"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashHelperEnv); path != "" {
		useHiddenTemp = os.Getenv(crashNamedEnv) == ""
		crashWriter(path)
		return
	}
	os.Exit(m.Run())
}

func crashWriter(path string) {
	for i := 0; ; i++ {
		k, err := jwk.Generate(jwk.ES256, jwk.GenerateOptions{})
		if err != nil {
			panic(err)
		}
		_, err = Update(path, Options{}, func(kr *keyring.Keyring) error {
			_, err := kr.Create(k, keyring.Stamp{At: time.Now().UTC().Truncate(time.Second), By: "crash@test"})
			return err
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("written")
	}
}

// TestKilledWritersLeaveAWholeKeyring kills a writer that rewrites the
// keyring in a tight loop with SIGKILL at random moments, many times:
// every time, the keyring on disk is a whole, valid version, never fewer
// keys than before, and the next writer cleans the temporary file a kill
// left behind. With named temporary files (the fallback) kills catch one
// often; with unnamed ones (Linux's O_TMPFILE) a file is named only
// between its link and its rename, so a kill rarely leaves one.
func TestKilledWritersLeaveAWholeKeyring(t *testing.T) {
	if testing.Short() {
		t.Skip("starts many processes")
	}
	named := killWriters(t, true)
	unnamed := killWriters(t, false)
	if named == 0 {
		t.Error("no kill landed inside a write; the test proved little")
	}
	if runtime.GOOS == "linux" && unnamed*4 > crashRounds {
		t.Errorf("unnamed temporary files: %d of %d kills left one (named: %d)", unnamed, crashRounds, named)
	}
}

const crashRounds = 40

// killWriters runs the kills and returns how many left a temporary file.
func killWriters(t *testing.T, named bool) (leftovers int) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	writeLargeKeyring(t, path, 200, 0) // big enough that a write takes a while
	f, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys := len(f.Keyring.Keys)
	rng := rand.New(rand.NewPCG(2, uint64(time.Now().UnixNano())))
	for i := range crashRounds {
		c := exec.Command(os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), crashHelperEnv+"="+path)
		if named {
			c.Env = append(c.Env, crashNamedEnv+"=1")
		}
		c.Stderr = os.Stderr
		out, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		// The writer reports each write: time one, then kill at a random
		// moment of the next ones, whatever the machine's speed (the race
		// detector slows writes down a lot).
		lines := bufio.NewScanner(out)
		lines.Scan()
		start := time.Now()
		lines.Scan()
		period := time.Since(start)
		if i%2 == 0 {
			time.Sleep(time.Duration(rng.Int64N(int64(period) * 2)))
		} else {
			// Pounce: kill as soon as a temporary file shows, in the
			// middle of writing, syncing or renaming.
			for deadline := time.Now().Add(10 * period); time.Now().Before(deadline); {
				if temps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), tempPrefix+"*")); len(temps) > 0 {
					break
				}
			}
		}
		c.Process.Signal(syscall.SIGKILL)
		c.Wait()
		if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: the writer was not killed: %v", i, c.ProcessState)
		}
		temps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), tempPrefix+"*"))
		leftovers += len(temps)
		f, err := Load(path, Options{History: true})
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if err := f.Keyring.Validate(); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if got := len(f.Keyring.Keys); got < keys {
			t.Fatalf("round %d: %d keys, had %d", i, got, keys)
		}
		keys = len(f.Keyring.Keys)
	}
	t.Logf("named temporary files %v: %d kills, %d keys written, %d kills caught a temporary file", named, crashRounds, keys, leftovers)
	if _, err := Update(path, Options{}, func(*keyring.Keyring) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if temps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), tempPrefix+"*")); len(temps) > 0 {
		t.Fatalf("temporary files left after a clean write: %v", temps)
	}
	return leftovers
}
