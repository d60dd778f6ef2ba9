package keysfile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/keyctl/keyctl/internal/safefile"
)

// A keys file that is a FIFO is refused at once; one in a directory others
// can write, or owned by another user, is refused too.
func TestReadRefusesUntrustedFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	done := make(chan error, 1)
	go func() { _, err := Read(fifo); done <- err }()
	select {
	case err := <-done:
		var nr *safefile.NotRegularError
		if !errors.As(err, &nr) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read blocked on a FIFO")
	}
	path := filepath.Join(dir, "signing_keys.json")
	if err := Write(path, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	var dm *safefile.DirModeError
	if _, err := Read(path); !errors.As(err, &dm) {
		t.Fatalf("err = %v", err)
	}
	os.Chmod(dir, 0o700)
	if os.Geteuid() == 0 {
		os.Chown(path, 65534, 65534)
		var oe *safefile.OwnerError
		if _, err := Read(path); !errors.As(err, &oe) {
			t.Fatalf("err = %v", err)
		}
	}
}
