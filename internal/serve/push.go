package serve

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// NewPushed returns a Handler whose keys are pushed to it (Push) by a
// source that announces its changes, such as a keyring in PostgreSQL
// watched through LISTEN/NOTIFY: requests are answered from memory, with
// no file read and no query. first is the set to start with. opts.Path
// names the source in logs; opts.Load is not used. With first nil the
// handler is not ready (/readyz and the JWKS answer 503) until the first
// Push.
func NewPushed(opts Options, first *jwk.Set) (*Handler, error) {
	if opts.MaxAge < 0 || opts.MaxAge%time.Second != 0 {
		return nil, fmt.Errorf("serve: max-age %s is not a whole number of seconds", opts.MaxAge)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &Handler{opts: opts, log: opts.Logger, pushed: true, issuer: opts.Issuer, clock: time.Now}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.cacheControl = "public, max-age=" + strconv.FormatInt(int64(opts.MaxAge/time.Second), 10)
	if first != nil {
		if err := h.install(first, opts.Now()); err != nil {
			return nil, err
		}
	}
	h.prepare()
	return h, nil
}

// Push makes set the one served. A set that cannot be published is
// recorded as a failure and the last good set stays.
func (h *Handler) Push(set *jwk.Set) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.install(set, h.opts.Now()); err != nil {
		h.fail(err)
	}
	h.prepare()
}

// PushFailure records that the source could not be read: the last good
// set is still served and /healthz says stale, and since when, until the
// next Push.
func (h *Handler) PushFailure(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail(err)
	h.prepare()
}
