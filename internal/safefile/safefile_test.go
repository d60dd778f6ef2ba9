package safefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestOpenFIFODoesNotBlock(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadFile(p, 100, Trusted("keyring")); done <- err }()
	select {
	case err := <-done:
		var nr *NotRegularError
		if !errors.As(err, &nr) {
			t.Fatalf("err = %v, want NotRegularError", err)
		}
		if nr.Mode&fs.ModeNamedPipe == 0 {
			t.Fatalf("mode %v", nr.Mode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("opening a FIFO blocked")
	}
}

func TestDirRule(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	p := filepath.Join(dir, "k.json")
	os.WriteFile(p, []byte("{}"), 0o600)
	if _, err := ReadFile(p, 100, Trusted("keyring")); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []fs.FileMode{0o777, 0o1777, 0o770, 0o702} {
		os.Chmod(dir, mode)
		_, err := ReadFile(p, 100, Trusted("keyring"))
		var dm *DirModeError
		if !errors.As(err, &dm) {
			t.Fatalf("mode %04o: err = %v, want DirModeError", mode, err)
		}
		if dm.Hint() != "chmod 700 "+dm.Dir {
			t.Fatal(dm.Hint())
		}
	}
	os.Chmod(dir, 0o755)
	if _, err := ReadFile(p, 100, Trusted("keyring")); err != nil {
		t.Fatal(err)
	}
	// Only the owner rule: a world-writable directory is fine.
	os.Chmod(dir, 0o777)
	if _, err := ReadFile(p, 100, Policy{What: "JWKS", Owner: true}); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o700)
}

// The rule covers every directory above the file: whoever can rename an
// ancestor can put another tree, and another keyring, in its place. A
// sticky ancestor (/tmp) may be writable by others; the file's own
// directory may not.
func TestDirRuleAncestors(t *testing.T) {
	top := t.TempDir()
	mid := filepath.Join(top, "project")
	dir := filepath.Join(mid, "keys")
	os.MkdirAll(dir, 0o700)
	os.Chmod(top, 0o700)
	os.Chmod(mid, 0o700)
	p := filepath.Join(dir, "k.json")
	os.WriteFile(p, []byte("{}"), 0o600)
	for _, mode := range []fs.FileMode{0o777, 0o775, 0o757} {
		os.Chmod(mid, mode)
		_, err := ReadFile(p, 100, Trusted("keyring"))
		var dm *DirModeError
		if !errors.As(err, &dm) || dm.Dir != mid || !dm.Above {
			t.Fatalf("ancestor mode %04o: err = %v, want DirModeError for %s", mode, err, mid)
		}
		// A shared directory above is not the user's to chmod.
		if h := dm.Hint(); strings.Contains(h, "chmod") || !strings.Contains(err.Error(), "on the way to the keyring") {
			t.Fatalf("ancestor: %v; hint %q", err, h)
		}
	}
	os.Chmod(mid, 0o777|os.ModeSticky)
	if _, err := ReadFile(p, 100, Trusted("keyring")); err != nil {
		t.Fatalf("a sticky ancestor: %v", err)
	}
	os.Chmod(mid, 0o755)
	if err := CheckDir(p, "keyring"); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		os.Chown(mid, 65534, 65534)
		var oe *OwnerError
		if _, err := ReadFile(p, 100, Trusted("keyring")); !errors.As(err, &oe) || oe.Path != mid || !oe.Above || strings.Contains(oe.Hint(), "chown") {
			t.Fatalf("another user's ancestor: %v", err)
		}
		os.Chown(mid, 0, 0)
	}
}

func TestOwnerRule(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a file owned by another user")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "k.json")
	os.WriteFile(p, []byte("{}"), 0o600)
	os.Chown(p, 65534, 65534)
	var oe *OwnerError
	if _, err := ReadFile(p, 100, Trusted("keyring")); !errors.As(err, &oe) || oe.IsDir {
		t.Fatalf("err = %v", err)
	}
	os.Chown(p, 0, 0)
	os.Chown(dir, 65534, 65534)
	if _, err := ReadFile(p, 100, Trusted("keyring")); !errors.As(err, &oe) || !oe.IsDir {
		t.Fatalf("err = %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	os.WriteFile(p, make([]byte, 101), 0o600)
	var tl *TooLargeError
	if _, err := ReadFile(p, 100, Policy{}); !errors.As(err, &tl) {
		t.Fatal(err)
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "srv")
	os.Mkdir(real, 0o700)
	target := filepath.Join(real, "keyring.json")
	os.WriteFile(target, nil, 0o600)
	cfg := filepath.Join(dir, "cfg")
	os.Mkdir(cfg, 0o700)
	link := filepath.Join(cfg, "keyring.json")
	os.Symlink("../srv/keyring.json", link)
	got, err := Resolve(link)
	if err != nil || got != target {
		t.Fatalf("Resolve(link) = %q, %v; want %q", got, err, target)
	}
	// A dangling link resolves to where it points, so creation lands there.
	dangling := filepath.Join(cfg, "new.json")
	os.Symlink(filepath.Join(real, "new.json"), dangling)
	if got, err := Resolve(dangling); err != nil || got != filepath.Join(real, "new.json") {
		t.Fatalf("Resolve(dangling) = %q, %v", got, err)
	}
	// A missing file under a linked directory.
	os.Symlink(real, filepath.Join(dir, "alias"))
	if got, err := Resolve(filepath.Join(dir, "alias", "x.json")); err != nil || got != filepath.Join(real, "x.json") {
		t.Fatalf("Resolve(missing) = %q, %v", got, err)
	}
	// Loops end.
	loop := filepath.Join(dir, "loop")
	os.Symlink(loop, loop)
	if _, err := Resolve(loop); err == nil {
		t.Fatal("a symlink loop resolved")
	}
}

// A dangling relative link reached through a directory link resolves where
// the kernel would create the file: ".." climbs from the link's real
// directory.
func TestResolveDanglingRelativeLinkUnderDirLink(t *testing.T) {
	b, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"real/proj/cfg", "work"} {
		if err := os.MkdirAll(filepath.Join(b, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../real/proj/cfg", filepath.Join(b, "work/cfg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../srv/keyring.json", filepath.Join(b, "real/proj/cfg/keyring.json")); err != nil {
		t.Fatal(err)
	}
	got, err := Resolve(filepath.Join(b, "work/cfg/keyring.json"))
	want := filepath.Join(b, "real/proj/srv/keyring.json")
	if err != nil || got != want {
		t.Fatalf("Resolve = %q, %v; want %q", got, err, want)
	}
}

// Another user's symlink in a sticky, world-writable directory (/tmp) is
// not followed, as the kernel's fs.protected_symlinks refuses it: it could
// aim a write at any file of this user's. This user's own link there is.
func TestResolveRefusesOthersLinkInStickyDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a symlink to another user (CI runs as root)")
	}
	tmp := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "authorized_keys")
	link := filepath.Join(tmp, "signing_keys.json")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err := Resolve(link)
	var le *LinkError
	if !errors.As(err, &le) || le.UID != 65534 {
		t.Fatalf("Resolve(another user's link in a sticky dir) = %v", err)
	}
	// Reached through a directory component too.
	if _, err := Resolve(filepath.Join(link, "x")); !errors.As(err, &le) {
		t.Fatalf("through the link: %v", err)
	}
	// The directory's owner's link is followed (the kernel allows it).
	if err := os.Chown(tmp, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if got, err := Resolve(link); err != nil || got != victim {
		t.Fatalf("the directory owner's link: %q, %v", got, err)
	}
	// So is one's own, and any link outside a sticky directory.
	os.Chown(tmp, 0, 0)
	os.Lchown(link, os.Geteuid(), os.Getegid())
	if got, err := Resolve(link); err != nil || got != victim {
		t.Fatalf("own link: %q, %v", got, err)
	}
	os.Lchown(link, 65534, 65534)
	os.Chmod(tmp, 0o755)
	if got, err := Resolve(link); err != nil || got != victim {
		t.Fatalf("a link in a private directory: %q, %v", got, err)
	}
}

// ".." after a link climbs from where the link leads, as the kernel's
// does: "lnk/../f" is the f beside the link's target, not beside the link.
// A relative path from a working directory reached through a link ($PWD
// keeps the link) likewise. A path through a file, or ".." over a
// directory that does not exist, names nothing.
func TestResolveDotDotAfterLink(t *testing.T) {
	b, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(b, "real", "sub"), 0o700)
	os.Mkdir(filepath.Join(b, "proj"), 0o700)
	os.WriteFile(filepath.Join(b, "real", "f"), nil, 0o600)
	if err := os.Symlink(filepath.Join(b, "real", "sub"), filepath.Join(b, "proj", "lnk")); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(b, "real", "f")
	if got, err := Resolve(filepath.Join(b, "proj", "lnk") + "/../f"); err != nil || got != want {
		t.Fatalf("lnk/../f = %q, %v; want %q", got, err, want)
	}
	// A new file there lands there too.
	if got, err := Resolve(filepath.Join(b, "proj", "lnk") + "/../new.json"); err != nil || got != filepath.Join(b, "real", "new.json") {
		t.Fatalf("lnk/../new.json = %q, %v", got, err)
	}
	t.Chdir(filepath.Join(b, "proj", "lnk"))
	t.Setenv("PWD", filepath.Join(b, "proj", "lnk")) // as a shell leaves it
	if got, err := Resolve("../f"); err != nil || got != want {
		t.Fatalf("../f from a linked working directory = %q, %v; want %q", got, err, want)
	}
	for p, errno := range map[string]error{
		want + "/..":                          syscall.ENOTDIR,
		want + "/../x":                        syscall.ENOTDIR,
		want + "/":                            syscall.ENOTDIR,
		filepath.Join(b, "missing") + "/../x": syscall.ENOENT,
		filepath.Join(b, "new.json") + "/":    syscall.EISDIR,
	} {
		if got, err := Resolve(p); !errors.Is(err, errno) {
			t.Errorf("Resolve(%q) = %q, %v; want %v", p, got, err, errno)
		}
	}
}

// userNSHelperEnv makes the test binary run CheckDir on the path it names
// and print the result, for TestCheckDirInUserNamespace.
const userNSHelperEnv = "KEYCTL_SAFEFILE_USERNS_HELPER"

func init() {
	if p := os.Getenv(userNSHelperEnv); p != "" {
		if err := CheckDir(p, "keyring"); err != nil {
			fmt.Println("refused:", err)
			os.Exit(1)
		}
		fmt.Println("accepted")
		os.Exit(0)
	}
}

// In a user namespace that does not map root (Flatpak, toolbox, rootless
// containers), / and /tmp show as owned by the overflow uid: as ancestors
// they are trusted as root is, while the file's own directory still must
// be the user's.
func TestCheckDirInUserNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the check as another user in a new user namespace (CI runs as root)")
	}
	unshare, err1 := exec.LookPath("unshare")
	setpriv, err2 := exec.LookPath("setpriv")
	if err1 != nil || err2 != nil {
		t.Skip("needs unshare and setpriv (util-linux)")
	}
	dir, err := os.MkdirTemp("", "keyctl-userns-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "safefile.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, bin} {
		if err := os.Chown(p, 1001, 1001); err != nil {
			t.Fatal(err)
		}
	}
	run := func() (string, error) {
		c := exec.Command(setpriv, "--reuid=1001", "--regid=1001", "--clear-groups",
			unshare, "--user", "--map-user=1001", "--map-group=1001", bin)
		c.Env = append(os.Environ(), userNSHelperEnv+"="+filepath.Join(dir, "keyring.json"))
		out, err := c.CombinedOutput()
		return string(out), err
	}
	out, err := run()
	if strings.Contains(out, "unshare failed") || strings.Contains(out, "Operation not permitted") {
		t.Skipf("user namespaces are not available here: %s", out)
	}
	if err != nil || !strings.Contains(out, "accepted") {
		t.Fatalf("CheckDir in a user namespace: %v: %s", err, out)
	}
	// The file's own directory owned by someone else (shown as the
	// overflow uid there) is still refused.
	os.Chown(dir, 0, 0)
	os.Chmod(dir, 0o755)
	if out, err := run(); err == nil || !strings.Contains(out, "is owned by another user") {
		t.Fatalf("another user's directory in a user namespace: %v: %s", err, out)
	}
}

// A symlink on the way to the file counts as the directory that holds it:
// in a directory a group can write (no sticky bit), the group could
// re-point the link at another file of the user's.
func TestDirRuleLinkDirs(t *testing.T) {
	b, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(b, "home", "keys")
	shared := filepath.Join(b, "shared")
	os.MkdirAll(keys, 0o700)
	os.Mkdir(shared, 0o700)
	os.Chmod(filepath.Join(b, "home"), 0o700)
	p := filepath.Join(keys, "k.json")
	os.WriteFile(p, []byte("{}"), 0o600)
	link := filepath.Join(shared, "mykeys")
	if err := os.Symlink(keys, link); err != nil {
		t.Fatal(err)
	}
	via := filepath.Join(link, "k.json")
	if _, err := ReadFile(via, 100, Trusted("keyring")); err != nil {
		t.Fatalf("a link in a private directory: %v", err)
	}
	os.Chmod(shared, 0o770)
	var dm *DirModeError
	if _, err := ReadFile(via, 100, Trusted("keyring")); !errors.As(err, &dm) || dm.Dir != shared {
		t.Fatalf("a link in a group-writable directory: %v", err)
	}
	// The file itself, named without the link, is fine.
	if _, err := ReadFile(p, 100, Trusted("keyring")); err != nil {
		t.Fatal(err)
	}
	// With the sticky bit others cannot replace the user's own link.
	os.Chmod(shared, 0o777|os.ModeSticky)
	if _, err := ReadFile(via, 100, Trusted("keyring")); err != nil {
		t.Fatalf("own link in a sticky directory: %v", err)
	}
}
