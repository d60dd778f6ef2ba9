package bulk

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/jwt"
)

// Tokens are minted in batches: one batch is one unit of work for Ordered
// and one write to the output (the batch is the output buffer: tens of
// kilobytes when tokens flow, a single token when lines trickle in). A
// batch of ES256 tokens takes a few milliseconds, long enough that handing
// it between goroutines costs nothing measurable, short enough that the
// last batch leaves no core idle for long.
const (
	batchTokens = 128
	batchBytes  = 256 << 10 // --claims-from: input bytes per batch at most
)

// MaxLineBytes bounds one line of claims; a longer line is an error rather
// than a reason to buffer without limit.
const MaxLineBytes = 1 << 20

// UUIDLen is the length of a UUID in its text form.
const UUIDLen = jwk.UUIDLen

// chunk is the output of one batch: its tokens, one per line, and the
// error that stopped it, if any (the tokens before it are still written).
type chunk struct {
	buf []byte
	err error
}

var chunks = sync.Pool{New: func() any { return &chunk{buf: make([]byte, 0, 64<<10)} }}

func getChunk() *chunk {
	c := chunks.Get().(*chunk)
	c.buf, c.err = c.buf[:0], nil
	return c
}

func putChunk(c *chunk) {
	if cap(c.buf) <= 1<<20 {
		chunks.Put(c)
	}
}

// MintCount writes n tokens from ser to w, one per line, each with a fresh
// random UUID v4 as the series' open member (the jti), on workers
// goroutines (0: every core). Memory stays bounded whatever n is.
func MintCount(w io.Writer, ser *jwt.Series, n int64, workers int) error {
	left := n
	next := func() (int, bool) {
		if left <= 0 {
			return 0, false
		}
		b := int(min(left, batchTokens))
		left -= int64(b)
		return b, true
	}
	work := func(_ int, count int) *chunk {
		c := getChunk()
		var rnd [16 * batchTokens]byte
		rand.Read(rnd[:16*count])
		var id [UUIDLen]byte
		for i := range count {
			jwk.FormatUUID(&id, rnd[16*i:16*i+16])
			var err error
			if c.buf, err = ser.Append(c.buf, id[:]); err != nil {
				c.err = err
				return c
			}
			c.buf = append(c.buf, '\n')
		}
		return c
	}
	return Ordered(workers, next, work, func(_ int, c *chunk) error {
		defer putChunk(c)
		if _, err := w.Write(c.buf); err != nil {
			return err
		}
		return c.err
	})
}

// LineError reports the input line (1-based) that could not become a token.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// ErrEmptyLine reports a blank line: every line must yield a token, so that
// output line k is always the token for input line k.
var ErrEmptyLine = errors.New("empty line (each line must be one JSON object)")

// MintLines reads r line by line and writes, for each line, the token mint
// makes of it, in input order, on workers goroutines (0: every core). A
// trailing "\r" is dropped from each line. It stops at the first line that
// is blank, longer than MaxLineBytes or refused by mint, after writing the
// tokens of every line before it, and returns a *LineError naming it.
// mint must be safe for concurrent use.
func MintLines(w io.Writer, r io.Reader, workers int, mint func(dst, line []byte) ([]byte, error)) error {
	return Lines(w, r, LineOptions{Workers: workers, Max: MaxLineBytes, StopAtLong: true}, func(dst []byte, l Line) ([]byte, error) {
		if n := len(l.Text); n > 0 && n == l.Size && l.Text[n-1] == '\r' {
			// A trailing "\r" is dropped from every line: the reader drops
			// one before "\n"; this one ends a line without it.
			l.Text, l.Size = l.Text[:n-1], n-1
		}
		switch {
		case l.Size > MaxLineBytes:
			return dst, fmt.Errorf("longer than %d bytes", MaxLineBytes)
		case len(bytes.TrimSpace(l.Text)) == 0:
			return dst, ErrEmptyLine
		}
		dst, err := mint(dst, l.Text)
		if err != nil {
			return dst, err
		}
		return append(dst, '\n'), nil
	})
}
