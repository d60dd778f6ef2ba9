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
// and /tmp. CheckDir trusts it for directories above the file only, as it
// trusts root.
func overflowUID(uid int) bool {
	o := nsOverflow()
	return o >= 0 && uid == o
}

var nsOverflow = sync.OnceValue(func() int {
	m, err := os.ReadFile("/proc/self/uid_map")
	if err != nil || strings.Join(strings.Fields(string(m)), " ") == "0 0 4294967295" {
		return -1 // the initial namespace: every uid is what it says
	}
	o, err := os.ReadFile("/proc/sys/kernel/overflowuid")
	if err != nil {
		return 65534
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(o)))
	if err != nil {
		return 65534
	}
	return n
})
