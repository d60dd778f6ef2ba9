//go:build unix

package cmd

import "syscall"

// The tests put trusted files in t.TempDir(), whose directories take the
// process umask: under a umask of 002 they would be group-writable, and
// keyctl rightly refuses files in them.
func init() { syscall.Umask(0o022) }
