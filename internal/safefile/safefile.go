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
	"slices"
	"strings"
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
	// Above: the directory is above the file's own (an ancestor), or
	// holds a symlink on the way to it.
	Above bool
	UID   int
}

func (e *OwnerError) Error() string {
	kind := e.What
	switch {
	case e.Above:
		return fmt.Sprintf("directory %s, on the way to the %s, is owned by another user (uid %d), who could replace what is below it", e.Path, e.What, e.UID)
	case e.IsDir:
		kind = "directory of the " + e.What
	}
	return fmt.Sprintf("%s %s is owned by another user (uid %d), so keyctl does not trust it", kind, e.Path, e.UID)
}

// Hint says what to do.
func (e *OwnerError) Hint() string {
	switch {
	case e.Above:
		return aboveHint(e.What)
	case e.IsDir:
		return fmt.Sprintf("keep it in a directory of your own (chown %d %s), or move it", os.Geteuid(), e.Path)
	}
	return fmt.Sprintf("if it is yours, take ownership (chown %d %s); otherwise do not use it", os.Geteuid(), e.Path)
}

// DirModeError refuses a directory others can write.
type DirModeError struct {
	What, Dir string
	Mode      fs.FileMode
	// Above: the directory is above the file's own (an ancestor), or
	// holds a symlink on the way to it.
	Above bool
}

func (e *DirModeError) Error() string {
	if e.Above {
		return fmt.Sprintf("directory %s, on the way to the %s, is writable by group or others (mode %04o) without the sticky bit, so another user could replace what is below it", e.Dir, e.What, octal(e.Mode))
	}
	return fmt.Sprintf("directory %s of the %s is writable by group or others (mode %04o), so another user could replace the %s", e.Dir, e.What, octal(e.Mode), e.What)
}

// Hint says what to do.
func (e *DirModeError) Hint() string {
	if e.Above || e.Mode&fs.ModeSticky != 0 || !ownDir(e.Dir) {
		// A shared directory (/tmp, a group's): not the user's to chmod.
		return aboveHint(e.What)
	}
	return "chmod 700 " + e.Dir
}

// ownDir reports whether dir belongs to the user running keyctl.
func ownDir(dir string) bool {
	st, err := os.Stat(dir)
	if err != nil {
		return false
	}
	uid, ok := owner(st)
	return ok && uid == os.Geteuid()
}

// octal is m's permission bits with the sticky bit, as ls and chmod write
// them.
func octal(m fs.FileMode) uint32 {
	o := uint32(m.Perm())
	if m&fs.ModeSticky != 0 {
		o |= 0o1000
	}
	return o
}

// aboveHint: a shared directory above the file is not the user's to
// chmod or chown; the file moves instead.
func aboveHint(what string) string {
	return fmt.Sprintf("keep the %s in a directory that only you and root can change, along with every directory above it (under your home directory, for example)", what)
}

// Resolve returns path with every symlink resolved, so that a lock, a
// temporary file and a rename all happen at the real file, in its
// directory. A path whose last element does not exist yet resolves its
// directory only (as far as it exists); a dangling symlink resolves to
// where it points, so a new file is created there, not over the link.
//
// It walks the path itself, as the kernel does, and like the kernel with
// fs.protected_symlinks it refuses to follow a symlink in a sticky,
// world-writable directory (/tmp) that belongs neither to this user nor
// to the directory's owner: another user's link there could aim keyctl's
// write at any file this user may write.
func Resolve(path string) (string, error) { return resolve(path, nil) }

// resolve is Resolve, calling onLink with the directory of every symlink
// it follows.
func resolve(path string, onLink func(dir string) error) (string, error) {
	// Not filepath.Abs: it cleans, and "link/../f" must climb from where
	// the link leads, as the kernel's does, not from where it sits.
	full := path
	if !filepath.IsAbs(path) {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		full = wd + string(filepath.Separator) + path
	}
	vol := filepath.VolumeName(full)
	cur := vol + string(filepath.Separator)
	rest := splitPath(full[len(vol):])
	if strings.HasSuffix(path, string(filepath.Separator)) {
		rest = append(rest, ".") // "keys.json/" names a directory
	}
	for links := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		st, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			// The rest does not exist yet: it is created as named (its
			// missing directories too), but ".." over a directory that
			// does not exist names nothing.
			if slices.Contains(rest, "..") {
				return "", &fs.PathError{Op: "resolve", Path: path, Err: syscall.ENOENT}
			}
			if len(rest) > 0 && rest[len(rest)-1] == "." {
				// "new.json/": a directory, which no file is created as.
				return "", &fs.PathError{Op: "resolve", Path: path, Err: syscall.EISDIR}
			}
			return filepath.Join(append([]string{next}, rest...)...), nil
		}
		if err != nil {
			return "", err
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			if !st.IsDir() && len(rest) > 0 {
				return "", &fs.PathError{Op: "resolve", Path: path, Err: syscall.ENOTDIR}
			}
			cur = next
			continue
		}
		if links++; links > 40 {
			return "", &fs.PathError{Op: "resolve", Path: path, Err: syscall.ELOOP}
		}
		if err := checkFollow(cur, next, st); err != nil {
			return "", err
		}
		if onLink != nil {
			if err := onLink(cur); err != nil {
				return "", err
			}
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			tv := filepath.VolumeName(target)
			cur = tv + string(filepath.Separator)
			target = target[len(tv):]
		}
		// A relative target climbs from the link's real directory, cur.
		t := splitPath(target)
		if strings.HasSuffix(target, string(filepath.Separator)) {
			t = append(t, ".")
		}
		rest = append(t, rest...)
	}
	return cur, nil
}

func splitPath(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return os.IsPathSeparator(uint8(r)) })
}

// LinkError refuses to follow a symlink another user left in a sticky,
// world-writable directory.
type LinkError struct {
	Path string
	UID  int
}

func (e *LinkError) Error() string {
	return fmt.Sprintf("%s is a symbolic link owned by another user (uid %d) in a shared, sticky directory; keyctl does not follow it", e.Path, e.UID)
}

// Hint says what to do.
func (e *LinkError) Hint() string {
	return "name the real file instead, or keep the file in a directory of your own"
}

// checkFollow applies the kernel's fs.protected_symlinks rule to the link
// at path, found in the directory dir.
func checkFollow(dir, path string, link fs.FileInfo) error {
	uid, ok := owner(link)
	if !ok || uid == os.Geteuid() {
		return nil
	}
	dst, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if dst.Mode()&fs.ModeSticky == 0 || dst.Mode().Perm()&0o002 == 0 {
		return nil
	}
	if duid, ok := owner(dst); ok && duid == uid {
		return nil
	}
	return &LinkError{Path: path, UID: uid}
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
// resolving symlinks), and to every directory above it, as ssh's
// StrictModes does: whoever can rename an ancestor can swap the whole
// tree below it. An ancestor with the sticky bit (/tmp) may be writable
// by others, since they cannot rename what is not theirs in it; the
// file's own directory may not.
func CheckDir(path, what string) error {
	// A symlink on the way is as good as the directory holding it: in a
	// directory a group can write, the group can re-point it.
	linkDirs := map[string]bool{}
	real, err := resolve(path, func(dir string) error {
		linkDirs[dir] = true
		return nil
	})
	if err != nil {
		return err
	}
	dir := filepath.Dir(real)
	for first := true; ; first = false {
		if err := checkOneDir(dir, what, first); err != nil {
			return err
		}
		delete(linkDirs, dir)
		up := filepath.Dir(dir)
		if up == dir {
			break
		}
		dir = up
	}
	for d := range linkDirs {
		for ; ; d = filepath.Dir(d) {
			if err := checkOneDir(d, what, false); err != nil {
				return err
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return nil
}

// checkOneDir applies the directory rule to dir: the file's own (first)
// or one on the way to it.
func checkOneDir(dir, what string, first bool) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if uid, ok := owner(st); ok && !trustedUID(uid) && (first || !overflowUID(uid)) {
		return &OwnerError{What: what, Path: dir, IsDir: true, Above: !first, UID: uid}
	}
	if st.Mode().Perm()&0o022 != 0 && (first || st.Mode()&fs.ModeSticky == 0) {
		return &DirModeError{What: what, Dir: dir, Mode: st.Mode(), Above: !first}
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
	var le *LinkError
	return errors.As(err, &nr) || errors.As(err, &oe) || errors.As(err, &dm) || errors.As(err, &le)
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
