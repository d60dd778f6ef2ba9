//go:build unix

package jwks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"time"
)

// lockFile takes an exclusive advisory lock (flock) on the lock file at
// path, creating it private (0600), waiting at most wait. Closing the
// descriptor, as the returned function does, releases it: a process that
// dies holding it loses it.
//
// errLockBusy says the wait ran out; other errors say the file cannot be
// used as a lock (not a regular file, another user's). Both leave the
// caller to go on without it.
func lockFile(ctx context.Context, path string, wait time.Duration) (func(), error) {
	// O_NOFOLLOW and O_NONBLOCK: a symlink planted there must not make
	// keyctl create or lock a file elsewhere, nor a FIFO make it wait.
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%s is a symbolic link", path)
		}
		return nil, err
	}
	st, err := file.Stat()
	switch {
	case err != nil:
	case !st.Mode().IsRegular():
		err = fmt.Errorf("%s is not a regular file", path)
	case !ownedByMe(st):
		// Another user could hold it for ever, or never.
		err = fmt.Errorf("%s is owned by another user", path)
	case st.Mode().Perm()&0o077 != 0:
		// This user's own file made looser by hand: others who can open
		// it could hold the lock, so it is made private again.
		err = file.Chmod(0o600)
	}
	if err != nil {
		file.Close()
		return nil, err
	}
	deadline := time.Now().Add(wait)
	pause := time.Millisecond
	for {
		err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { file.Close() }, nil
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			file.Close()
			return nil, err
		}
		rest := time.Until(deadline)
		if rest <= 0 {
			file.Close()
			return nil, errLockBusy
		}
		// Poll with growing, jittered pauses, as internal/store does: the
		// holder is usually done within one request.
		sleep := min(pause/2+rand.N(pause), rest)
		select {
		case <-ctx.Done():
			file.Close()
			return nil, ctx.Err()
		case <-time.After(sleep):
		}
		if pause < 20*time.Millisecond {
			pause *= 2
		}
	}
}
