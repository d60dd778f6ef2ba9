package bulk

import (
	"bufio"
	"bytes"
	"io"
)

// Line is one line of input handed to a Lines callback.
type Line struct {
	No   int    // line number, from 1
	Text []byte // the line without its "\n" or "\r\n", cut to at most max+1 bytes
	Size int    // the line's real length: more than len(Text) when it was cut
}

// lineBatch is a run of consecutive input lines, copied out of the reader.
type lineBatch struct {
	first int // line number of the first line
	data  []byte
	ends  []int // end offset of each line in data
	sizes []int // real length of each line
}

// LineOptions sets how Lines reads.
type LineOptions struct {
	Workers int // 0: every core
	Max     int // the longest line fn gets whole, in bytes
	// StopAtLong ends the input at a line longer than Max: fn gets it cut
	// to Max+1 bytes (Size says only that it is longer) and nothing after
	// it is read, not even the rest of the line. Without it the rest is
	// read and dropped, fn gets the cut line with its real Size, and
	// reading goes on.
	StopAtLong bool
}

// Lines reads r line by line and writes, for each line, what fn appends to
// dst, in input order, on o.Workers goroutines. Lines go to the workers in
// batches of up to 128, and each batch's output is one write to w; a batch
// takes only the lines already read in, so a producer that writes one line
// and waits for its answer gets it at once. A line longer than o.Max bytes
// never takes more than o.Max+2 bytes of memory (see StopAtLong).
//
// If fn returns an error, Lines writes what fn appended for every earlier
// line (and for this one before the error), and returns a *LineError
// naming the line at once, without waiting for more input. A read error is
// returned after the output of every line read before it. fn must be safe
// for concurrent use.
func Lines(w io.Writer, r io.Reader, o LineOptions, fn func(dst []byte, l Line) ([]byte, error)) error {
	lr := &lineReader{br: bufio.NewReaderSize(r, 64<<10), max: o.Max}
	done := false
	next := func() (*lineBatch, bool) {
		if done {
			return nil, false
		}
		b := &lineBatch{first: lr.no + 1}
		for len(b.ends) == 0 || (len(b.ends) < batchTokens && len(b.data) < batchBytes && lr.lineReady()) {
			var size int
			var ok bool
			if b.data, size, ok = lr.next(b.data, o.StopAtLong); !ok {
				done = true
				break
			}
			b.ends = append(b.ends, len(b.data))
			b.sizes = append(b.sizes, size)
			if size > o.Max && o.StopAtLong {
				done = true
				break
			}
		}
		if len(b.ends) == 0 {
			return nil, false
		}
		return b, true
	}
	work := func(_ int, b *lineBatch) *chunk {
		c := getChunk()
		start := 0
		for i, end := range b.ends {
			var err error
			c.buf, err = fn(c.buf, Line{No: b.first + i, Text: b.data[start:end], Size: b.sizes[i]})
			if err != nil {
				c.err = &LineError{Line: b.first + i, Err: err}
				return c
			}
			start = end
		}
		return c
	}
	err := Ordered(o.Workers, next, work, func(_ int, c *chunk) error {
		defer putChunk(c)
		if _, err := w.Write(c.buf); err != nil {
			return err
		}
		return c.err
	})
	if err == nil {
		err = lr.err
	}
	return err
}

// lineReader reads lines keeping at most max+1 bytes of each.
type lineReader struct {
	br  *bufio.Reader
	max int
	no  int   // lines read so far
	err error // the read error that ended the input, other than EOF
}

// next appends the next line, without its ending and cut to max+1 bytes,
// to dst, and returns dst and the line's real length. With stopLong it
// stops reading once the line is known to be longer than max+1 bytes
// (with its ending) and returns the length read so far. It reports false
// at the end of the input or on a read error (kept in lr.err).
func (lr *lineReader) next(dst []byte, stopLong bool) ([]byte, int, bool) {
	start := len(dst)
	size := 0
	var last2 [2]byte // the line's last two bytes, however long it is
	for {
		frag, err := lr.br.ReadSlice('\n')
		size += len(frag)
		// Keep max+2 bytes: the line cut to max+1, or a whole line of max
		// bytes and its "\r".
		if room := lr.max + 2 - (len(dst) - start); room > 0 {
			dst = append(dst, frag[:min(len(frag), room)]...)
		}
		if stopLong && err == bufio.ErrBufferFull && size > lr.max+2 {
			lr.no++
			return dst[:start+lr.max+1], size, true
		}
		switch len(frag) {
		case 0:
		case 1:
			last2 = [2]byte{last2[1], frag[0]}
		default:
			last2 = [2]byte{frag[len(frag)-2], frag[len(frag)-1]}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && err != io.EOF {
			lr.err = err
			return dst[:start], 0, false
		}
		if err == io.EOF && size == 0 {
			return dst[:start], 0, false
		}
		break
	}
	lr.no++
	if last2[1] == '\n' {
		size--
		if size > 0 && last2[0] == '\r' {
			size--
		}
	}
	return dst[:start+min(size, lr.max+1)], size, true
}

// lineReady reports whether a whole line is already buffered.
func (lr *lineReader) lineReady() bool {
	buf, _ := lr.br.Peek(lr.br.Buffered())
	return bytes.IndexByte(buf, '\n') >= 0
}
