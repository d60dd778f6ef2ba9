package main

import (
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestKeyringDirNotWritable: a keyring in a directory this user cannot
// write is refused with what is wrong (the directory), not a temp-file
// name and "permission denied", and is left as it was. As root (CI) the
// check runs keyctl as the nobody user, for whom root's directory is not
// writable; otherwise the directory is made read-only.
func TestKeyringDirNotWritable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs keyctl as another user")
	}
	bin, err := exec.LookPath("keyctl")
	if err != nil {
		t.Fatal(err)
	}
	// Everything under a world-traversable directory, so another user can
	// reach the binary and the keyring.
	top, err := os.MkdirTemp("", "keyctl-dirwrite-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(top, 0o755); os.RemoveAll(top) })
	os.Chmod(top, 0o755)
	exe := filepath.Join(top, "bin", "keyctl")
	os.Mkdir(filepath.Dir(exe), 0o755)
	copyFile(t, bin, exe, 0o755)
	dir := filepath.Join(top, "ring")
	os.Mkdir(dir, 0o755)
	keyring := filepath.Join(dir, "keyring.json")

	run := func(asUser bool, args ...string) (string, int) {
		t.Helper()
		argv := append([]string{exe}, args...)
		if asUser {
			argv = append([]string{"runuser", "-u", "nobody", "--"}, argv...)
		}
		c := exec.Command(argv[0], argv[1:]...)
		c.Env = append(os.Environ(), "HOME="+top, "XDG_CONFIG_HOME="+top+"/cfg", "KEYCTL_KEYRING="+keyring, "NO_COLOR=1", "GORACE=atexit_sleep_ms=0")
		c.Dir = top
		out, err := c.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	asOther := os.Geteuid() == 0
	if asOther {
		if _, err := exec.LookPath("runuser"); err != nil {
			t.Skip("no runuser")
		}
		if _, err := user.Lookup("nobody"); err != nil {
			t.Skip("no nobody user")
		}
	}
	if out, code := run(false, "keys", "create", "--kid", "first"); code != 0 {
		t.Fatalf("keys create: %s", out)
	}
	if asOther {
		u, _ := user.Lookup("nobody")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		// The keyring and its lock are nobody's; the directory stays root's.
		for _, p := range []string{keyring, keyring + ".lock"} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		os.Chmod(dir, 0o555)
		defer os.Chmod(dir, 0o755)
	}
	before, _ := os.ReadFile(keyring)
	out, code := run(asOther, "keys", "create", "--kid", "second")
	if code != 1 || !strings.Contains(out, "directory "+dir+" is not writable by this user") || !strings.Contains(out, "hint: nothing was changed") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if strings.Contains(out, ".keyctl-tmp-") || strings.Contains(out, "permission denied") {
		t.Fatalf("the message names a temporary file or says only permission denied:\n%s", out)
	}
	if after, _ := os.ReadFile(keyring); string(after) != string(before) {
		t.Fatal("the keyring changed")
	}
	// Without the lock file, creating it is what fails: the same message.
	os.Remove(keyring + ".lock")
	if out, code := run(asOther, "keys", "create", "--kid", "third"); code != 1 || !strings.Contains(out, "is not writable by this user") {
		t.Fatalf("without a lock file: exit %d:\n%s", code, out)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
