//go:build !linux

package safefile

func overflowUID(int) bool { return false }
