//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package serve

import "os"

// sysStamp is empty where the platform's stat has no inode: size and
// modification time, plus the content check of recently changed files, still
// catch every change.
type sysStamp struct{}

func sysStampOf(os.FileInfo) sysStamp { return sysStamp{} }
