// Command shuffle times short commands against each other: every
// iteration runs each command once, in a fresh random order, so that no
// command always runs after another (on a VM, a process can run faster
// right after a similar one: hyperfine's runs of one command in a row, or
// a fixed order, bias ratios by several percent). testdata/bench/peers.sh
// uses it for the one-token table.
//
//	shuffle [-n ITERATIONS] [-warmup W] 'NAME|COMMAND ARGS' ...
//
// Commands are split on white space (no shell) and run with stdout
// discarded; a command that fails stops everything. For each command it
// prints one tab-separated line: name, median wall time (ms), median over
// iterations of its wall time divided by the first command's in the same
// iteration, and median CPU time (user + system, ms).
//
// It lives under testdata so that `go build ./...` of keyctl skips it.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 300, "timed iterations")
	warmup := flag.Int("warmup", 10, "untimed iterations first")
	flag.Parse()
	type command struct {
		name string
		argv []string
	}
	var cmds []command
	for _, a := range flag.Args() {
		name, line, ok := strings.Cut(a, "|")
		if !ok || len(strings.Fields(line)) == 0 {
			fmt.Fprintf(os.Stderr, "shuffle: want NAME|COMMAND, not %q\n", a)
			os.Exit(2)
		}
		cmds = append(cmds, command{name, strings.Fields(line)})
	}
	if len(cmds) == 0 || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: shuffle [-n N] [-warmup W] 'NAME|COMMAND' ...")
		os.Exit(2)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		panic(err)
	}
	wall := make([][]float64, len(cmds))
	cpu := make([][]float64, len(cmds))
	for it := 0; it < *warmup+*n; it++ {
		for _, j := range rand.Perm(len(cmds)) {
			c := exec.Command(cmds[j].argv[0], cmds[j].argv[1:]...)
			c.Stdout = devnull
			start := time.Now()
			if err := c.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "shuffle: %s: %v\n", cmds[j].name, err)
				os.Exit(1)
			}
			d := time.Since(start)
			ru := c.ProcessState.SysUsage().(*syscall.Rusage)
			if it >= *warmup {
				wall[j] = append(wall[j], d.Seconds()*1000)
				cpu[j] = append(cpu[j], float64(ru.Utime.Nano()+ru.Stime.Nano())/1e6)
			}
		}
	}
	for j, c := range cmds {
		ratio := make([]float64, *n)
		for i := range ratio {
			ratio[i] = wall[j][i] / wall[0][i]
		}
		fmt.Printf("%s\t%.3f\t%.3f\t%.3f\n", c.name, median(wall[j]), median(ratio), median(cpu[j]))
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
