// Package store keeps keyctl's files on disk safely: exclusive locks,
// atomic replacement, private permissions and a versioned keyring document.
package store

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/keyctl/keyctl/internal/safefile"
)

// tempPrefix names keyctl's temporary files so stale ones can be recognised.
const tempPrefix = ".keyctl-tmp-"

// DirNotWritableError reports a directory keyctl must write a file into
// (the new version of a keyring, its lock) that this user cannot write.
type DirNotWritableError struct{ Dir string }

func (e *DirNotWritableError) Error() string {
	return fmt.Sprintf("directory %s is not writable by this user, so keyctl cannot change the file there", e.Dir)
}

// Hint says what to do.
func (e *DirNotWritableError) Hint() string {
	return "nothing was changed; ask the directory's owner, or keep the file in a directory of yours"
}

// WriteFileAtomic replaces path with data so that a reader, or a crash at any
// moment, sees either the old file or the new one, whole: a temporary file
// in the same directory, written with perm, synced, renamed over path, and
// the directory synced. On Linux the temporary file has no name while it is
// written (O_TMPFILE) and gets one only just before the rename, so a writer
// killed mid-write leaves no copy of the data behind. A path that is a symlink (or lies under one) is
// written where it really is, so the link stays a link.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	// At the real file, or not at all: a link loop, a path through a
	// file or another user's link is an error, never a write over the
	// link itself.
	path, err = safefile.Resolve(path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if tmp, ok := hiddenTemp(dir, perm); ok {
		err := writeHidden(tmp, path, data, perm)
		if err == nil || !errors.Is(err, errLink) {
			return err
		}
		// Could not be linked in (no /proc, no privilege): write it again,
		// named.
	}
	tmp, err := os.CreateTemp(dir, tempPrefix+filepath.Base(path)+"-*")
	if errors.Is(err, fs.ErrPermission) {
		return &DirNotWritableError{Dir: dir}
	}
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if err = fill(tmp, data, perm); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmpName, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// useHiddenTemp lets the crash test cover the named temporary file too.
var useHiddenTemp = true

// hiddenWritten, when set by a test, runs once the unnamed file holds the
// data, before it is named.
var hiddenWritten func()

// errLink: an unnamed temporary file could not be linked in.
var errLink = errors.New("link the temporary file")

// writeHidden writes data to the unnamed file tmp, then names it with a
// temporary name and renames it over path: a named temporary file exists
// only between the link and the rename.
func writeHidden(tmp *os.File, path string, data []byte, perm os.FileMode) (err error) {
	defer tmp.Close()
	if err := fill(tmp, data, perm); err != nil {
		return err
	}
	if hiddenWritten != nil {
		hiddenWritten()
	}
	dir := filepath.Dir(path)
	var tmpName string
	for range 10 {
		tmpName = filepath.Join(dir, tempPrefix+filepath.Base(path)+"-"+strconv.FormatUint(uint64(rand.Uint32()), 10))
		if err = linkHidden(tmp, tmpName); !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errLink, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		os.Remove(tmpName)
		return err
	}
	return syncDir(dir)
}

// fill sets the temporary file's mode (umask aside), writes data and
// syncs it.
func fill(tmp *os.File, data []byte, perm os.FileMode) error {
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	return tmp.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// IsTempFile reports whether name is one of keyctl's temporary files.
func IsTempFile(name string) bool { return strings.HasPrefix(filepath.Base(name), tempPrefix) }
