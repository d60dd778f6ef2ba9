package serve

import (
	"context"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/keyctl/keyctl/internal/safefile"
)

// DefaultPollInterval is how often Watch stats the source besides inotify:
// the fallback where inotify is missing or misses a change (a network
// filesystem, a directory replaced), and the clock for the re-check of a
// file read while fresh (racyWindow).
const DefaultPollInterval = time.Second

// Watch follows the source's changes until ctx is done: inotify events on
// the file's directory (keyctl writes by renaming a new file into place,
// so the directory is watched, not the file) and, as the fallback, a stat
// every poll. Each event costs a stat; the file is read only when it
// changed. It reports whether inotify is in use. A pushed handler's source
// announces its own changes: Watch does nothing there.
func (h *Handler) Watch(ctx context.Context, poll time.Duration) bool {
	if h.pushed {
		return false
	}
	if poll <= 0 {
		poll = DefaultPollInterval
	}
	w, err := fsnotify.NewWatcher()
	if err == nil {
		dirs := []string{filepath.Dir(h.opts.Path)}
		// A symlinked file or directory (a Kubernetes ConfigMap swaps a
		// ..data link): watch where the file really is too.
		if real, rerr := safefile.Resolve(h.opts.Path); rerr == nil && filepath.Dir(real) != dirs[0] {
			dirs = append(dirs, filepath.Dir(real))
		}
		for _, d := range dirs {
			if aerr := w.Add(d); aerr != nil {
				err = aerr
			}
		}
		if err != nil {
			w.Close()
			w = nil
		}
	}
	if err != nil {
		h.log.Warn("no inotify; checking the source with a stat instead", "every", poll.String(), "err", err.Error())
	}
	go h.watch(ctx, w, poll)
	return w != nil
}

// settle is how long the directory must stay quiet after an event before
// the source is checked: a file rewritten in place (cp, a shell's >) is
// first truncated, then written, and the empty or half-written file
// between the two must not be taken in.
const settle = 30 * time.Millisecond

func (h *Handler) watch(ctx context.Context, w *fsnotify.Watcher, poll time.Duration) {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	defer quiet.Stop()
	var lastEvent time.Time
	var events chan fsnotify.Event
	var errs chan error
	if w != nil {
		defer w.Close()
		events, errs = w.Events, w.Errors
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if time.Since(lastEvent) < settle {
				continue // the settle timer will check
			}
		case <-quiet.C:
		case _, ok := <-events:
			if ok {
				lastEvent = time.Now()
				quiet.Reset(settle)
			} else {
				events = nil
			}
			continue
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// An overflowed queue lost events: check now.
			h.log.Warn("inotify", "err", err.Error())
		}
		h.Reload()
	}
}
