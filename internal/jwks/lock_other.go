//go:build !unix

package jwks

import (
	"context"
	"time"
)

// lockFile takes no lock here: there is no flock. Processes that overlap
// are kept apart only by the attempt the cache records before each
// request, which a process that reads the cache after it sees.
func lockFile(context.Context, string, time.Duration) (func(), error) {
	return func() {}, nil
}
