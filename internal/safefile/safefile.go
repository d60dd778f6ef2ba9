// Package safefile opens the files keyctl trusts (keyrings, keys files it
// signs with, the config file, JWK Sets, caches) without the traps of a
// plain os.Open: it never blocks on a FIFO or device, refuses anything but a
// regular file, and, as ssh does for its keys, refuses a file or directory
// another user could have put there.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Policy says what a file must satisfy besides being a regular file.
type Policy struct {
	// What names the file in messages: "keyring", "keys file", ...
	What string
	// Owner requires the file to belong to the user running keyctl, or
	// to root.
	Owner bool
	// Dir requires the file's directory (after resolving symlinks) to
	// belong to the user or root and not to be group- or world-writable,
	// sticky bit or not: whoever can write the directory can replace the
	// file.
	Dir bool
}

// Trusted is the policy for files that decide which keys are trusted or
// used to sign: owner and directory checked.
func Trusted(what string) Policy { return Policy{What: what, Owner: true, Dir: true} }

// NotRegularError refuses a FIFO, device, socket or directory.
type NotRegularError struct {
	What, Path string
	Mode       fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s %s is %s, not a regular file", e.What, e.Path, describe(e.Mode))
}

// Hint says what to do.
func (e *NotRegularError) Hint() string {
	return "give the path of a regular file"
}

func describe(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "not a regular file (" + m.Type().String() + ")"
}

// OwnerError refuses a file or directory owned by another user.
type OwnerError struct {
	What, Path string
	IsDir      bool
	UID        int
}

func (e *OwnerError) Error() string {
	kind := e.What
	if e.IsDir {
		kind = "directory of the " + e.What
	}
	return fmt.Sprintf("%s %s is owned by another user (uid %d), so keyctl does not trust it", kind, e.Path, e.UID)
}

// Hint says what to do.
func (e *OwnerError) Hint() string {
	if e.IsDir {
		return fmt.Sprintf("keep it in a directory of your own (chown %d %s), or move it", os.Geteuid(), e.Path)
	}
	return fmt.Sprintf("if it is yours, take ownership (chown %d %s); otherwise do not use it", os.Geteuid(), e.Path)
}

// DirModeError refuses a directory others can write.
type DirModeError struct {
	What, Dir string
	Mode      fs.FileMode
}

func (e *DirModeError) Error() string {
	return fmt.Sprintf("directory %s of the %s is writable by group or others (mode %04o), so another user could replace the %s", e.Dir, e.What, e.Mode.Perm(), e.What)
}

// Hint says what to do.
func (e *DirModeError) Hint() string { return "chmod 700 " + e.Dir }

// Resolve returns path with every symlink resolved, so that a lock, a
// temporary file and a rename all happen at the real file, in its
// directory. A path whose last element does not exist yet resolves its
// directory only (as far as it exists).
func Resolve(path string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err == nil {
		return filepath.Abs(real)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	// A dangling symlink: follow it by hand, so the file is created where
	// the link points, not over the link.
	if target, lerr := os.Readlink(path); lerr == nil {
		if !filepath.IsAbs(target) {
			// Relative to the link's real directory: a ".." in the target
			// climbs from there, as the kernel's does, not from a
			// directory link that led to it.
			dir, err := filepath.EvalSymlinks(filepath.Dir(path))
			if err != nil {
				return "", err
			}
			target = filepath.Join(dir, target)
		}
		return resolveMissing(target, 40)
	}
	return resolveMissing(path, 40)
}

func resolveMissing(path string, depth int) (string, error) {
	if depth == 0 {
		return "", fmt.Errorf("%s: too many levels of symbolic links", path)
	}
	dir, base := filepath.Split(filepath.Clean(path))
	if dir == "" {
		dir = "."
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if filepath.Clean(dir) == dir || filepath.Dir(filepath.Clean(dir)) == filepath.Clean(dir) {
			return filepath.Abs(path)
		}
		realDir, err = resolveMissing(filepath.Clean(dir), depth-1)
	}
	if err != nil {
		return "", err
	}
	full := filepath.Join(realDir, base)
	if target, lerr := os.Readlink(full); lerr == nil {
		if !filepath.IsAbs(target) {
			target = filepath.Join(realDir, target)
		}
		return resolveMissing(target, depth-1)
	}
	return filepath.Abs(full)
}

// Open opens path for reading under p. It never blocks: the file is opened
// non-blocking and checked with fstat before a byte is read. The error for
// a missing file wraps fs.ErrNotExist.
func Open(path string, p Policy) (*os.File, fs.FileInfo, error) {
	if p.What == "" {
		p.What = "file"
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := Check(path, st, p); err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// Check applies p to a file already opened (or stat'ed) at path.
func Check(path string, st fs.FileInfo, p Policy) error {
	if p.What == "" {
		p.What = "file"
	}
	if !st.Mode().IsRegular() {
		return &NotRegularError{What: p.What, Path: path, Mode: st.Mode()}
	}
	if p.Owner {
		if uid, ok := owner(st); ok && !trustedUID(uid) {
			return &OwnerError{What: p.What, Path: path, UID: uid}
		}
	}
	if p.Dir {
		return CheckDir(path, p.What)
	}
	return nil
}

// CheckDir applies the directory rule to the directory holding path (after
// resolving symlinks).
func CheckDir(path, what string) error {
	real, err := Resolve(path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(real)
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if uid, ok := owner(st); ok && !trustedUID(uid) {
		return &OwnerError{What: what, Path: dir, IsDir: true, UID: uid}
	}
	if st.Mode().Perm()&0o022 != 0 {
		return &DirModeError{What: what, Dir: dir, Mode: st.Mode()}
	}
	return nil
}

// Refused reports whether err is one of the refusals above (not a regular
// file, another user's file or directory, a directory others can write):
// errors that name the file and carry their own hint, which callers should
// pass on as they are rather than wrap with a hint about the file's format.
func Refused(err error) bool {
	var nr *NotRegularError
	var oe *OwnerError
	var dm *DirModeError
	return errors.As(err, &nr) || errors.As(err, &oe) || errors.As(err, &dm)
}

func trustedUID(uid int) bool { return uid == os.Geteuid() || uid == 0 }

// ReadFile reads at most limit bytes of path under p. A file over the limit
// is an error naming the limit.
func ReadFile(path string, limit int64, p Policy) ([]byte, error) {
	f, _, err := Open(path, p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{What: p.What, Path: path, Limit: limit}
	}
	return data, nil
}

// TooLargeError refuses a file over its size limit.
type TooLargeError struct {
	What, Path string
	Limit      int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s %s is larger than %d bytes", e.What, e.Path, e.Limit)
}
