// Package bulk runs one function over a stream of inputs on several
// workers and emits the results in input order, with memory bounded by the
// number of items in flight, not by the length of the stream (Ordered).
// On it, MintCount and MintLines stream tokens for `keyctl gen bearer-jwt
// --count` and `--claims-from`.
package bulk

import (
	"runtime"
	"sync"
)

// MaxWorkers bounds a worker count from the command line: each worker
// holds items in flight, and more goroutines than this gain nothing.
const MaxWorkers = 256

// DefaultWorkers is the worker count when none is given: every core.
func DefaultWorkers() int { return runtime.GOMAXPROCS(0) }

// Ordered calls work(i, in) for every item received from next, on workers
// goroutines, and calls emit(i, out) for each result in the order the items
// were read. next returns ok=false at the end of the stream. emit runs on
// the calling goroutine; if it returns an error, Ordered returns that error
// at once: next is not called again once the call in progress returns, and
// work in flight finishes in the background, its results dropped. The
// caller must not rely on state next or work write after an error.
//
// At most 2*workers items are in flight at once.
func Ordered[In, Out any](workers int, next func() (In, bool), work func(int, In) Out, emit func(int, Out) error) error {
	if workers < 1 {
		workers = DefaultWorkers()
	}
	if workers == 1 {
		for i := 0; ; i++ {
			in, ok := next()
			if !ok {
				return nil
			}
			if err := emit(i, work(i, in)); err != nil {
				return err
			}
		}
	}
	type job struct {
		i   int
		in  In
		out chan Out
	}
	window := 2 * workers
	jobs := make(chan job, window)
	pending := make(chan chan Out, window)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.out <- work(j.i, j.in)
			}
		}()
	}
	stop := make(chan struct{})
	go func() {
		defer close(pending)
		defer close(jobs)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			in, ok := next()
			if !ok {
				return
			}
			out := make(chan Out, 1)
			select {
			case pending <- out:
			case <-stop:
				return
			}
			jobs <- job{i: i, in: in, out: out}
		}
	}()
	i := 0
	for out := range pending {
		if err := emit(i, <-out); err != nil {
			// Return at once rather than wait for the reader: it may be
			// blocked on input that never comes (a producer waiting for the
			// answer to the item that failed). The goroutines end on their
			// own: the reader stops at its next item, and the workers when
			// it closes the job queue.
			close(stop)
			return err
		}
		i++
	}
	wg.Wait()
	return nil
}
