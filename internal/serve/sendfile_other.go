//go:build !linux

package serve

import "syscall"

// bodyFile is Linux's sendfile path; elsewhere large bodies go out with
// writev.
type bodyFile struct{}

func newBodyFile([]byte) *bodyFile { return nil }

func (*bodyFile) send(syscall.RawConn, []byte) (int, error) { panic("unreachable") }
