package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/keyctl/keyctl/internal/safefile"
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
	// What names the file ("keyring" when empty).
	What string
}

func (e *BusyError) Error() string {
	what := e.What
	if what == "" {
		what = "keyring"
	}
	return fmt.Sprintf("%s %s is locked by another keyctl process (waited %s)", what, e.Path, e.Waited.Round(time.Millisecond))
}

// LockFile takes the exclusive lock of another file keyctl reads, changes
// and rewrites whole (a Supabase keys file), as Update does for a keyring:
// the sidecar path+LockSuffix at the real file (symlinks resolved), waited
// for at most timeout (0: DefaultLockTimeout), in a directory that passes
// safefile.CheckDir. Under the lock it removes
// the temporary files a killed writer of the file left. The returned
// function releases the lock.
func LockFile(path, what string, timeout time.Duration) (func(), error) {
	real, err := safefile.Resolve(path)
	if err != nil {
		return nil, err
	}
	// Before the lock file is made and temporary files are removed: not
	// in a directory another user could write (their files are not ours
	// to delete, and they could replace ours).
	if err := safefile.CheckDir(path, what); err != nil { // the user's path: links on the way count
		return nil, err
	}
	unlock, err := lock(real, timeout)
	var be *BusyError
	if errors.As(err, &be) {
		be.Path, be.What = path, what
	}
	if err != nil {
		return nil, err
	}
	cleanTemps(real)
	return unlock, nil
}

// LockFileError refuses a lock file keyctl did not make: a symlink (which
// would make keyctl create or lock a file wherever it points), a FIFO or
// other non-regular file, or another user's file.
type LockFileError struct {
	Path    string
	Problem string
}

func (e *LockFileError) Error() string { return fmt.Sprintf("lock file %s %s", e.Path, e.Problem) }

// Hint says what to do.
func (e *LockFileError) Hint() string {
	return fmt.Sprintf("remove it (rm %s); keyctl makes a new one", e.Path)
}

// openLockFile opens (creating if need be) the lock file without following
// a symlink and without blocking, and checks that it is a regular file of
// the user's or root's.
func openLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, &LockFileError{Path: path, Problem: "is a symbolic link; keyctl never follows one there"}
		}
		if st, lerr := os.Lstat(path); lerr == nil && !st.Mode().IsRegular() {
			return nil, &LockFileError{Path: path, Problem: "is " + describeMode(st.Mode()) + ", not a regular file"}
		}
		if errors.Is(err, fs.ErrPermission) {
			if _, lerr := os.Lstat(path); lerr != nil {
				return nil, &DirNotWritableError{Dir: filepath.Dir(path)}
			}
		}
		return nil, fmt.Errorf("lock keyring: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock keyring: %w", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, &LockFileError{Path: path, Problem: "is " + describeMode(st.Mode()) + ", not a regular file"}
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if ok && int(sys.Uid) != os.Geteuid() && sys.Uid != 0 {
		f.Close()
		return nil, &LockFileError{Path: path, Problem: fmt.Sprintf("is owned by another user (uid %d)", sys.Uid)}
	}
	if ok && int(sys.Uid) == os.Geteuid() && st.Mode().Perm()&0o077 != 0 {
		// One of the user's own, made looser by hand: whoever can open
		// it can hold the lock, so it is made private again.
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock keyring: %w", err)
		}
	}
	return f, nil
}

func describeMode(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return "a " + m.Type().String() + " file"
}

// lock takes the exclusive lock of the keyring at path, waiting at most
// timeout (0: DefaultLockTimeout; negative: do not wait). The returned
// function releases it.
func lock(path string, timeout time.Duration) (func(), error) {
	unlock, err := Flock(context.Background(), path+LockSuffix, timeout)
	var be *BusyError
	if errors.As(err, &be) {
		be.Path = path
	}
	return unlock, err
}

// Flock takes the exclusive lock (flock) of the lock file at lockPath,
// creating it private, waiting at most timeout (0: DefaultLockTimeout;
// negative: do not wait) or until ctx ends. A symlink, a non-regular file
// or another user's file there is refused (LockFileError); a wait that
// runs out is a BusyError. Closing the descriptor, as the returned
// function does, releases the lock, as does the process's death.
func Flock(ctx context.Context, lockPath string, timeout time.Duration) (func(), error) {
	if timeout == 0 {
		timeout = DefaultLockTimeout
	}
	f, err := openLockFile(lockPath)
	if err != nil {
		return nil, err
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
			return nil, &BusyError{Path: lockPath, Waited: time.Since(start)}
		}
		// Poll with growing, jittered pauses: many writers queue up without
		// spinning, and none waits much longer than the holder needs.
		sleep := min(pause/2+rand.N(pause), time.Until(deadline))
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(sleep):
		}
		if pause < 20*time.Millisecond {
			pause *= 2
		}
	}
}
