//go:build linux || darwin || freebsd || netbsd || openbsd

package serve

import (
	"os"
	"syscall"
)

// sysStamp holds what os.FileInfo leaves out: the device and inode (a new
// file renamed into place) and the change time (a chmod, which can make an
// unreadable file readable again).
type sysStamp struct {
	dev, ino uint64
	ctimeSec int64
	ctimeNs  int64
}

func sysStampOf(fi os.FileInfo) sysStamp {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return sysStamp{}
	}
	sec, nsec := ctime(st)
	return sysStamp{dev: uint64(st.Dev), ino: uint64(st.Ino), ctimeSec: sec, ctimeNs: nsec}
}
