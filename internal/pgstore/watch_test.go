package pgstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// watched runs Watch in the background and returns a function that waits
// for a published set satisfying ok.
func watched(t *testing.T, s *Store, o WatchOptions) func(what string, within time.Duration, ok func(*Published) bool) *Published {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var last *Published
	changed := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(ctx, o, func(p *Published) {
			mu.Lock()
			last = p
			mu.Unlock()
			select {
			case changed <- struct{}{}:
			default:
			}
		}, func(error) {})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func(what string, within time.Duration, ok func(*Published) bool) *Published {
		t.Helper()
		deadline := time.After(within)
		for {
			mu.Lock()
			p := last
			mu.Unlock()
			if p != nil && ok(p) {
				return p
			}
			select {
			case <-changed:
			case <-deadline:
				t.Fatalf("%s: not seen within %s", what, within)
			}
		}
	}
}

func addStandby(t *testing.T, uri string) string {
	t.Helper()
	k := genKey(t, jwk.ES256)
	if _, err := newStore(t, uri, Options{}).Update(ctx, func(kr *Keyring) error {
		_, err := kr.Create(k, stamp(time.Now()))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return k.KID
}

func hasKID(kid string) func(*Published) bool {
	return func(p *Published) bool {
		for _, k := range p.Set.Keys {
			if k.KID == kid {
				return true
			}
		}
		return false
	}
}

func TestWatchNotifiedWithinASecond(t *testing.T) {
	uri, _, _, _ := seeded(t)
	wait := watched(t, New(uri, Options{}), WatchOptions{Poll: time.Hour})
	wait("first load", 10*time.Second, func(p *Published) bool { return len(p.Set.Keys) == 2 })
	kid := addStandby(t, uri)
	start := time.Now()
	wait("the new key", 10*time.Second, hasKID(kid))
	if d := time.Since(start); d > time.Second {
		t.Errorf("the change took %s to arrive by NOTIFY", d)
	}
}

func TestWatchPollsWithoutListen(t *testing.T) {
	uri, _, _, _ := seeded(t)
	wait := watched(t, New(uri, Options{}), WatchOptions{Poll: 300 * time.Millisecond, NoListen: true})
	wait("first load", 10*time.Second, func(p *Published) bool { return len(p.Set.Keys) == 2 })
	kid := addStandby(t, uri)
	wait("the new key by polling", 5*time.Second, hasKID(kid))
}
