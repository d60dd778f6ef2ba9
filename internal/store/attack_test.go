package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyctl/keyctl/internal/safefile"
	"github.com/keyctl/keyctl/pkg/keyring"
)

func addKey(t *testing.T, kid string) func(*keyring.Keyring) error {
	return func(kr *keyring.Keyring) error {
		_, err := kr.Create(gen(t, "ES256", kid), stamp(0))
		return err
	}
}

// A keyring, or its directory, owned by another user is refused by every
// read and write: that user could have put their own keys there.
func TestForeignOwnedKeyringRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	for _, what := range []string{"file", "dir"} {
		t.Run(what, func(t *testing.T) {
			path := sample(t)
			target := path
			if what == "dir" {
				target = filepath.Dir(path)
			}
			if err := os.Chown(target, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(path)
			var oe *safefile.OwnerError
			if _, err := Load(path, Options{}); !errors.As(err, &oe) || oe.IsDir != (what == "dir") {
				t.Fatalf("Load: err = %v, want OwnerError", err)
			}
			if _, err := Update(path, Options{}, addKey(t, "new")); !errors.As(err, &oe) {
				t.Fatalf("Update: err = %v, want OwnerError", err)
			}
			if _, err := Encrypt(path, Options{}, []byte("pw"), stamp(0)); !errors.As(err, &oe) {
				t.Fatalf("Encrypt: err = %v, want OwnerError", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Fatal("the keyring changed")
			}
			// Root's is fine.
			if err := os.Chown(target, 0, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := Update(path, Options{}, addKey(t, "new")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A directory others can write, sticky or not, is refused, for an existing
// keyring and for one about to be created.
func TestWritableDirRefused(t *testing.T) {
	path := sample(t)
	dir := filepath.Dir(path)
	for _, mode := range []os.FileMode{0o777, 0o770, 0o707, 0o1777} {
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		var dm *safefile.DirModeError
		if _, err := Load(path, Options{}); !errors.As(err, &dm) {
			t.Fatalf("mode %04o: Load: err = %v", mode, err)
		}
		if _, err := Update(path, Options{}, addKey(t, "new")); !errors.As(err, &dm) {
			t.Fatalf("mode %04o: Update: err = %v", mode, err)
		}
		if dm.Hint() != "chmod 700 "+dir {
			t.Fatalf("hint %q", dm.Hint())
		}
	}
	fresh := filepath.Join(dir, "other.json")
	var dm *safefile.DirModeError
	if _, err := Update(fresh, Options{Create: true}, addKey(t, "new")); !errors.As(err, &dm) {
		t.Fatalf("create: err = %v", err)
	}
	if _, err := os.Lstat(fresh + LockSuffix); err == nil {
		t.Fatal("a lock file was created in the open directory")
	}
	os.Chmod(dir, 0o755)
	if _, err := Update(path, Options{}, addKey(t, "new")); err != nil {
		t.Fatal(err)
	}
}

// The lock file must be a regular file of the user's (or root's), reached
// without following a symlink: anything else is refused with its own
// message, and the keyring is left as it was.
func TestLockFileRefused(t *testing.T) {
	cases := map[string]func(t *testing.T, lockPath string){
		"symlink": func(t *testing.T, lockPath string) {
			if err := os.Symlink(filepath.Join(t.TempDir(), "elsewhere"), lockPath); err != nil {
				t.Fatal(err)
			}
		},
		"fifo": func(t *testing.T, lockPath string) {
			if err := syscall.Mkfifo(lockPath, 0o600); err != nil {
				t.Skip("mkfifo:", err)
			}
		},
		"directory": func(t *testing.T, lockPath string) {
			if err := os.Mkdir(lockPath, 0o700); err != nil {
				t.Fatal(err)
			}
		},
		"other user's": func(t *testing.T, lockPath string) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to give a file to another user")
			}
			if err := os.WriteFile(lockPath, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(lockPath, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, plant := range cases {
		t.Run(name, func(t *testing.T) {
			path := sample(t)
			os.Remove(path + LockSuffix)
			plant(t, path+LockSuffix)
			before, _ := os.ReadFile(path)
			done := make(chan error, 1)
			go func() {
				_, err := Update(path, Options{LockTimeout: -1}, addKey(t, "new"))
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Update blocked on the lock file")
			}
			var le *LockFileError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want LockFileError", err)
			}
			if !strings.Contains(le.Hint(), "rm "+path+LockSuffix) {
				t.Fatalf("hint %q", le.Hint())
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Fatal("the keyring changed")
			}
		})
	}
}

// A FIFO at the keyring path is refused by Load and Update at once.
func TestFIFOKeyringRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	for name, op := range map[string]func() error{
		"Load":   func() error { _, err := Load(path, Options{}); return err },
		"Update": func() error { _, err := Update(path, Options{Create: true}, addKey(t, "a")); return err },
	} {
		done := make(chan error, 1)
		go func() { done <- op() }()
		select {
		case err := <-done:
			var nr *safefile.NotRegularError
			if !errors.As(err, &nr) || !strings.Contains(err.Error(), "is a named pipe (FIFO), not a regular file") {
				t.Fatalf("%s: err = %v", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s blocked on a FIFO", name)
		}
	}
}

// Keyrings in ring[1]/ and ring1/: the writers of one never touch the
// other's temporary files (a glob built from "ring[1]" matched "ring1"),
// and each cleans its own stale ones.
func TestTempCleanupMatchesNamesNotGlobs(t *testing.T) {
	root := t.TempDir()
	paths := []string{filepath.Join(root, "ring[1]", "keyring.json"), filepath.Join(root, "ring1", "keyring.json")}
	for _, p := range paths {
		if _, err := Update(p, Options{Create: true}, addKey(t, "first")); err != nil {
			t.Fatal(err)
		}
	}
	stale := func(p string) string { return filepath.Join(filepath.Dir(p), tempPrefix+"keyring.json-123456") }
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }
	for _, p := range paths {
		os.WriteFile(stale(p), []byte("half a keyr"), 0o600)
	}
	if _, err := Update(paths[0], Options{}, addKey(t, "a1")); err != nil {
		t.Fatal(err)
	}
	if exists(stale(paths[0])) {
		t.Error("ring[1]/ kept its stale temporary file")
	}
	if !exists(stale(paths[1])) {
		t.Error("a write in ring[1]/ removed ring1/'s temporary file")
	}
	if _, err := Update(paths[1], Options{}, addKey(t, "b1")); err != nil {
		t.Fatal(err)
	}
	if exists(stale(paths[1])) {
		t.Error("ring1/ kept its stale temporary file")
	}

	// Concurrent writers in both directories: none fails.
	const n = 15
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		for j, p := range paths {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := Update(p, Options{LockTimeout: time.Minute}, addKey(t, fmt.Sprintf("c%d-%02d", j, i)))
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for _, p := range paths {
		f, err := Load(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Keyring.Keys) != n+2 {
			t.Errorf("%s: %d keys, want %d", p, len(f.Keyring.Keys), n+2)
		}
	}
}

func TestIsTempOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{tempPrefix + "keyring.json-123456", true},
		{tempPrefix + "keyring.json-", false},
		{tempPrefix + "keyring.json-2-123456", false}, // keyring.json-2's
		{tempPrefix + "keyring.json", false},
		{"keyring.json-123456", false},
		{tempPrefix + "other.json-123456", false},
	} {
		if got := isTempOf(tc.name, "keyring.json"); got != tc.want {
			t.Errorf("isTempOf(%q) = %v", tc.name, got)
		}
	}
}

// A keyring without the owner's write bit is read as usual, and every
// write refuses it, leaving the file and its mode as they were (root
// ignores modes, so the store checks the bit itself).
func TestReadOnlyKeyringRefusesWrites(t *testing.T) {
	path := sample(t)
	if _, err := Encrypt(path, Options{}, []byte("pw"), stamp(0)); err != nil {
		t.Fatal(err)
	}
	plain := sample(t)
	for _, p := range []string{path, plain} {
		if err := os.Chmod(p, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := os.ReadFile(path)
	beforePlain, _ := os.ReadFile(plain)
	writes := map[string]func() error{
		"Update": func() error {
			_, err := Update(path, Options{Passphrase: pass("pw")}, addKey(t, "new"))
			return err
		},
		"Decrypt": func() error { _, err := Decrypt(path, Options{Passphrase: pass("pw")}, stamp(0)); return err },
		"Encrypt": func() error { _, err := Encrypt(plain, Options{}, []byte("pw"), stamp(0)); return err },
		"Update plain": func() error {
			_, err := Update(plain, Options{}, func(*keyring.Keyring) error { return nil })
			return err
		},
	}
	for name, write := range writes {
		err := write()
		var ro *ReadOnlyError
		if !errors.As(err, &ro) {
			t.Fatalf("%s: err = %v, want ReadOnlyError", name, err)
		}
		if !strings.Contains(err.Error(), "read-only (mode 0400)") || ro.Hint() != "chmod 600 "+ro.Path+" to allow changes" {
			t.Fatalf("%s: %v / %s", name, err, ro.Hint())
		}
	}
	for p, want := range map[string][]byte{path: before, plain: beforePlain} {
		if after, _ := os.ReadFile(p); !bytes.Equal(after, want) {
			t.Fatalf("%s changed", p)
		}
		if st, _ := os.Stat(p); st.Mode().Perm() != 0o400 {
			t.Fatalf("%s: mode %04o", p, st.Mode().Perm())
		}
		if _, err := Load(p, Options{Passphrase: pass("pw")}); err != nil {
			t.Fatalf("Load: %v", err)
		}
	}
}
