//go:build linux

package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// hiddenTemp opens an unnamed file in dir (O_TMPFILE): until it is linked
// in, a writer killed mid-write leaves nothing behind, no private key in a
// stray temporary file. ok is false when the file system or kernel cannot
// (then WriteFileAtomic uses a named temporary file).
func hiddenTemp(dir string, perm os.FileMode) (f *os.File, ok bool) {
	if !useHiddenTemp {
		return nil, false
	}
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return nil, false
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed temporary file)")), true
}

// linkHidden gives the unnamed file f the name name, in its directory:
// through /proc/self/fd, or with AT_EMPTY_PATH where /proc is missing
// (which needs CAP_DAC_READ_SEARCH).
func linkHidden(f *os.File, name string) error {
	err := unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", f.Fd()), unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW)
	if err == nil || errors.Is(err, unix.EEXIST) {
		return err
	}
	if err2 := unix.Linkat(int(f.Fd()), "", unix.AT_FDCWD, name, unix.AT_EMPTY_PATH); err2 == nil || errors.Is(err2, unix.EEXIST) {
		return err2
	}
	return err
}
