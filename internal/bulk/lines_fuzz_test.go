package bulk

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// FuzzLines compares Lines with a plain reference: split on "\n", drop one
// "\r" before each "\n", number every line, cut a line over max to max+1
// bytes and report its real length; with StopAtLong, nothing after the
// first long line. Over one and several workers and a reader that returns
// a few bytes at a time.
func FuzzLines(f *testing.F) {
	for _, s := range []string{"", "a", "a\n", "a\r\nb", "\n\n", "abcdefgh\r\n\r", "x\ry\n", strings.Repeat("z", 40) + "\nq"} {
		f.Add([]byte(s), uint8(8), false, uint8(2))
		f.Add([]byte(s), uint8(3), true, uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, max uint8, stop bool, workers uint8) {
		m := int(max%32) + 1
		o := LineOptions{Workers: int(workers%4) + 1, Max: m, StopAtLong: stop}
		var got bytes.Buffer
		err := Lines(&got, &trickle{data: in}, o, func(dst []byte, l Line) ([]byte, error) {
			return fmt.Appendf(dst, "%d:%q:%d\n", l.No, l.Text, l.Size), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if len(in) > 0 {
			parts := bytes.Split(in, []byte("\n"))
			if len(parts[len(parts)-1]) == 0 {
				parts = parts[:len(parts)-1] // the input ends with "\n"
			}
			for i, p := range parts {
				if i < len(parts)-1 || in[len(in)-1] == '\n' {
					p = bytes.TrimSuffix(p, []byte("\r"))
				}
				text := p[:min(len(p), m+1)]
				if stop && len(p) > m {
					// Stopped early: Size says only that the line is long.
					fmt.Fprintf(&want, "%d:%q:", i+1, text)
					break
				}
				fmt.Fprintf(&want, "%d:%q:%d\n", i+1, text, len(p))
			}
		}
		g, w := got.String(), want.String()
		if stop && strings.HasSuffix(w, ":") {
			// The long line's reported size is at least max+1.
			last := g[strings.LastIndexByte(strings.TrimSuffix(g, "\n"), '\n')+1:]
			var no, size int
			var text string
			if _, err := fmt.Sscanf(last, "%d:%q:%d\n", &no, &text, &size); err != nil || size <= m {
				t.Fatalf("long line reported as %q", last)
			}
			g = strings.TrimSuffix(g, fmt.Sprintf("%d\n", size))
		}
		if g != w {
			t.Fatalf("Lines(%q, max %d, stop %v) =\n%s\nwant\n%s", in, m, stop, g, w)
		}
	})
}

// trickle returns at most 3 bytes per Read.
type trickle struct{ data []byte }

func (r *trickle) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 3)], r.data)
	r.data = r.data[n:]
	return n, nil
}
