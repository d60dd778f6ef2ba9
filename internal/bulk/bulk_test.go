package bulk

import (
	"errors"
	"fmt"
	"testing"
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
	read := 0
	next := func() (int, bool) { read++; return read, true } // endless stream
	err := Ordered(3, next, func(i, in int) int { return in }, func(i, out int) error {
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if read > 10+2*3+3 {
		t.Fatalf("read %d items after the error: memory is not bounded", read)
	}
}
