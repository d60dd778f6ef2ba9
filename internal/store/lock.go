package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"time"
)

// DefaultLockTimeout bounds how long a writer waits for another keyctl
// process to finish with the keyring before giving up with a BusyError.
const DefaultLockTimeout = 10 * time.Second

// LockSuffix names the sidecar lock file next to a keyring. The lock file
// is never removed: deleting it while another process waits on it would let
// two writers in.
const LockSuffix = ".lock"

// BusyError reports a keyring locked by another process for longer than
// the bounded wait.
type BusyError struct {
	Path   string
	Waited time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("keyring %s is locked by another keyctl process (waited %s)", e.Path, e.Waited.Round(time.Millisecond))
}

// lock takes the exclusive lock of the keyring at path, waiting at most
// timeout (0: DefaultLockTimeout; negative: do not wait). The returned
// function releases it.
func lock(path string, timeout time.Duration) (func(), error) {
	if timeout == 0 {
		timeout = DefaultLockTimeout
	}
	f, err := os.OpenFile(path+LockSuffix, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock keyring: %w", err)
	}
	start := time.Now()
	deadline := start.Add(timeout)
	pause := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock keyring: %w", err)
		}
		if !time.Now().Before(deadline) {
			f.Close()
			return nil, &BusyError{Path: path, Waited: time.Since(start)}
		}
		// Poll with growing, jittered pauses: many writers queue up without
		// spinning, and none waits much longer than the holder needs.
		sleep := pause/2 + rand.N(pause)
		if rest := time.Until(deadline); sleep > rest {
			sleep = rest
		}
		time.Sleep(sleep)
		if pause < 20*time.Millisecond {
			pause *= 2
		}
	}
}
