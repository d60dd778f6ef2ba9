package serve

import "os"

// stamp identifies one version of a file as cheaply as a stat can: a
// rename over the file (how keyctl writes) changes the inode, an edit in
// place changes the size or the modification time, a chmod the change time.
type stamp struct {
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
	return stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano(), sys: sysStampOf(fi)}, nil
}
