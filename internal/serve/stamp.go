package serve

import "os"

// stamp identifies one version of a file as cheaply as a stat can: a
// rename over the file (how keyctl writes) changes the inode, an edit in
// place changes the size or the modification time, a chmod the change time.
type stamp struct {
	mode  os.FileMode // a FIFO swapped in is refused on its stat
	size  int64
	mtime int64 // nanoseconds since the epoch
	sys   sysStamp
}

// statStamp stats path.
func statStamp(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	return stamp{mode: fi.Mode(), size: fi.Size(), mtime: fi.ModTime().UnixNano(), sys: sysStampOf(fi)}, nil
}
