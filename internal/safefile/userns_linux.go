//go:build linux

package safefile

import (
	"os"
	"strconv"
	"strings"
	"sync"
)

// overflowUID reports whether uid is the kernel's overflow uid as seen in
// a user namespace that does not map every uid (Flatpak, bubblewrap,
// toolbox, rootless containers): there, the host's root shows as it, on /
// and /tmp, as does every other host user the map leaves out, whom the
// sandbox cannot tell apart. CheckDir trusts it for directories above the
// file only; the file's own directory must still be the user's.
func overflowUID(uid int) bool {
	o := nsOverflow()
	return o >= 0 && uid == o
}

var nsOverflow = sync.OnceValue(func() int {
	m, err := os.ReadFile("/proc/self/uid_map")
	if err != nil || strings.Join(strings.Fields(string(m)), " ") == "0 0 4294967295" {
		return -1 // the initial namespace: every uid is what it says
	}
	n := 65534
	if o, err := os.ReadFile("/proc/sys/kernel/overflowuid"); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(o))); err == nil {
			n = v
		}
	}
	// Only when no range of the map covers it is it the stand-in for
	// the users outside; otherwise it is a real user in here.
	for _, line := range strings.Split(strings.TrimSpace(string(m)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			return -1
		}
		inside, err1 := strconv.ParseUint(f[0], 10, 64)
		count, err2 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return -1
		}
		if uint64(n) >= inside && uint64(n) < inside+count {
			return -1
		}
	}
	return n
})
