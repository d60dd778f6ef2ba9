package bulk

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func TestOrderedKeepsOrder(t *testing.T) {
	for _, workers := range []int{1, 2, 7} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			n := 0
			next := func() (int, bool) {
				if n == 1000 {
					return 0, false
				}
				n++
				return n, true
			}
			var got []int
			err := Ordered(workers, next, func(i, in int) int { return in * 2 }, func(i, out int) error {
				got = append(got, out)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1000 {
				t.Fatalf("got %d results", len(got))
			}
			for i, v := range got {
				if v != (i+1)*2 {
					t.Fatalf("result %d = %d, want %d", i, v, (i+1)*2)
				}
			}
		})
	}
}

func TestOrderedStopsOnEmitError(t *testing.T) {
	boom := errors.New("boom")
	var read atomic.Int64
	next := func() (int, bool) { return int(read.Add(1)), true } // endless stream
	err := Ordered(3, next, func(i, in int) int { return in }, func(i, out int) error {
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	// Ordered returns without waiting for the reader, which stops at its
	// next item: give it time to run on if it were going to. This bounds
	// what was read; it does not time anything.
	time.Sleep(50 * time.Millisecond)
	if n := read.Load(); n > 10+2*3+3 {
		t.Fatalf("read %d items after the error: memory is not bounded", n)
	}
}
