package serve

import (
	"io"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// bodyFile holds a large response body in a sealed memfd, so the fast
// path sends it with sendfile(2) (the kernel copies it from the page
// cache; the body never passes through a user-space buffer again), as
// nginx sends a static file. The fd closes when the last response using it
// is done and the file is garbage (os.File's cleanup).
type bodyFile struct {
	f    *os.File
	fd   int
	size int
}

// newBodyFile returns body in a sealed memfd, or nil when one cannot be
// made (the fast path then writes the body with writev).
func newBodyFile(body []byte) *bodyFile {
	fd, err := unix.MemfdCreate("keyctl-jwks", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), "keyctl-jwks")
	if _, err := f.Write(body); err != nil {
		f.Close()
		return nil
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SEAL|unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK); err != nil {
		f.Close()
		return nil
	}
	return &bodyFile{f: f, fd: fd, size: len(body)}
}

// send writes head, then the body, to the socket behind rc: head with
// MSG_MORE so the two leave in full segments, the body with sendfile.
// Both honour the connection's write deadline.
func (b *bodyFile) send(rc syscall.RawConn, head []byte) (int, error) {
	var off int64
	sent := 0
	var serr error
	err := rc.Write(func(fd uintptr) bool {
		for sent < len(head) || off < int64(b.size) {
			var n int
			var err error
			if sent < len(head) {
				n, err = unix.SendmsgN(int(fd), head[sent:], nil, nil, unix.MSG_MORE|unix.MSG_NOSIGNAL)
				sent += max(n, 0)
			} else if n, err = unix.Sendfile(int(fd), b.fd, &off, b.size-int(off)); err == nil && n == 0 {
				err = io.ErrUnexpectedEOF
			}
			switch err {
			case nil, unix.EINTR:
			case unix.EAGAIN:
				return false // wait until the socket takes more
			default:
				serr = err
				return true
			}
		}
		return true
	})
	runtime.KeepAlive(b.f)
	if err == nil {
		err = serr
	}
	return sent + int(off), err
}
