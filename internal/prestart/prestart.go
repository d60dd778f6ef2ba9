// Package prestart grows the main goroutine's stack once, before the
// package initialisers that use it most run.
//
// A goroutine starts with an 8 KiB stack and doubles it whenever a call
// would overflow it: each doubling copies the stack and walks every frame on
// it through the function tables. Package initialisers (regexp compilation
// in viper's and lipgloss's dependencies) and then cobra's command execution
// make the main goroutine of keyctl double its stack several times, which showed
// up as about 5% of the time of a one-token `keyctl gen bearer-jwt` run
// (docs/performance.md). Needing one 64 KiB frame while the stack is still
// shallow makes a single cheap copy instead; the stack then stays that size
// (only the garbage collector shrinks stacks, and a one-shot command seldom
// runs it). The frame is zeroed (Go zeroes the array), so its 16 pages are
// touched: 64 KiB of resident memory, about as much as the deepest stacks
// of a run use anyway.
//
// Go initialises packages in import-path order among those whose imports are
// done. This package imports nothing, so its init runs before those of
// github.com/mattn, github.com/spf13, github.com/subosito, go.yaml.in and
// golang.org/x, which compile regular expressions at init.
package prestart

// frame is the size of the one frame that grows the stack.
const frame = 64 << 10

func init() { grow() }

// grow needs a frame of the given size: the runtime's stack check in its
// prologue grows the stack before the body runs.
//
//go:noinline
func grow() byte {
	var buf [frame]byte
	return buf[sink]
}

// sink keeps the compiler from proving buf unused.
var sink = 0
