// Package store keeps keyctl's files on disk safely: exclusive locks,
// atomic replacement, private permissions and a versioned keyring document.
package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
// the directory synced. A path that is a symlink (or lies under one) is
// written where it really is, so the link stays a link.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	real, rerr := safefile.Resolve(path)
	var le *safefile.LinkError
	switch {
	case errors.As(rerr, &le):
		return rerr
	case rerr == nil:
		path = real
	}
	dir := filepath.Dir(path)
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
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
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
