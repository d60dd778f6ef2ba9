package store

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/keyctl/keyctl/internal/safefile"
)

// TestWriteFileAtomicThroughSymlink: a file reached through a symlink is
// replaced where it really is (also when the link dangles), the link
// stays a link, and no temporary file is left in either directory.
func TestWriteFileAtomicThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"link", "real"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	link, target := filepath.Join(dir, "link", "f.json"), filepath.Join(dir, "real", "f.json")
	if err := os.Symlink("../real/f.json", link); err != nil {
		t.Fatal(err)
	}
	for _, content := range []string{"first\n", "second\n"} {
		if err := WriteFileAtomic(link, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("after writing %q the link is %v, %v", content, fi.Mode(), err)
		}
		if got, err := os.ReadFile(target); err != nil || string(got) != content {
			t.Fatalf("target holds %q, %v; want %q", got, err, content)
		}
	}
	for _, d := range []string{"link", "real"} {
		entries, _ := os.ReadDir(filepath.Join(dir, d))
		if len(entries) != 1 {
			t.Errorf("%s holds %d entries, want 1", d, len(entries))
		}
	}
}

// WriteFileAtomic does not write through another user's symlink in a
// sticky, world-writable directory, and leaves the target alone.
func TestWriteFileAtomicRefusesOthersLinkInStickyDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a symlink to another user (CI runs as root)")
	}
	tmp := filepath.Join(t.TempDir(), "tmp")
	os.Mkdir(tmp, 0o700)
	if err := os.Chmod(tmp, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "authorized_keys")
	if err := os.WriteFile(victim, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(tmp, "keys.json")
	os.Symlink(victim, link)
	if err := os.Lchown(link, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	err := WriteFileAtomic(link, []byte("[]\n"), 0o600)
	var le *safefile.LinkError
	if !errors.As(err, &le) {
		t.Fatalf("WriteFileAtomic through another user's link: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep\n" {
		t.Fatalf("target changed: %q", b)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("link replaced: %v", err)
	}
}

// On Linux the data is written to a file with no name: while it is being
// written, nothing in the directory holds it, so a writer killed there
// leaves no copy of a private key behind.
func TestWriteFileAtomicWritesUnnamed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("O_TMPFILE is Linux's")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "signing_keys.json")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var during []string
	called := false
	hiddenWritten = func() {
		called = true
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			during = append(during, e.Name())
		}
	}
	defer func() { hiddenWritten = nil }()
	if err := WriteFileAtomic(path, []byte("[]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !called {
		t.Fatal("no unnamed temporary file was used (O_TMPFILE unsupported here?)")
	}
	if len(during) != 1 || during[0] != "signing_keys.json" {
		t.Fatalf("the directory while the data was written: %v", during)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("written file: %v, %v", fi, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("directory after the write: %v", entries)
	}
}
