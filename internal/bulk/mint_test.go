package bulk

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/jwt"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func newSeries(t testing.TB) (*jwt.Series, ed25519.PublicKey) {
	t.Helper()
	k, err := jwk.Generate(jwk.EdDSA, jwk.GenerateOptions{KID: "bulk-test"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	ser, err := s.NewSeries(map[string]any{"role": "anon", "exp": int64(4102444800)}, "jti", UUIDLen)
	if err != nil {
		t.Fatal(err)
	}
	return ser, k.PublicMaterial().(ed25519.PublicKey)
}

// checkToken verifies an EdDSA token and returns its claims.
func checkToken(t *testing.T, tok string, pub ed25519.PublicKey) map[string]any {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil || !ed25519.Verify(pub, []byte(tok[:i]), sig) {
		t.Fatalf("token does not verify: %q", tok)
	}
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMintCount(t *testing.T) {
	ser, pub := newSeries(t)
	for _, n := range []int64{0, 1, batchTokens - 1, batchTokens, batchTokens + 1, 1000} {
		for _, workers := range []int{0, 1, 2, 5} {
			t.Run(fmt.Sprintf("n=%d/workers=%d", n, workers), func(t *testing.T) {
				var out bytes.Buffer
				if err := MintCount(&out, ser, n, workers); err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					if out.Len() != 0 {
						t.Fatalf("output for no tokens: %q", out.Bytes())
					}
					return
				}
				if !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
					t.Fatal("no final newline")
				}
				lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
				if int64(len(lines)) != n {
					t.Fatalf("%d tokens, want %d", len(lines), n)
				}
				seen := map[string]bool{}
				for i, tok := range lines {
					c := checkToken(t, tok, pub)
					jti, _ := c["jti"].(string)
					if !uuidV4.MatchString(jti) {
						t.Fatalf("token %d: jti %q is not a UUID v4", i+1, jti)
					}
					if seen[jti] {
						t.Fatalf("token %d repeats jti %s", i+1, jti)
					}
					seen[jti] = true
					if c["role"] != "anon" || c["exp"] != float64(4102444800) {
						t.Fatalf("token %d claims %v", i+1, c)
					}
				}
			})
		}
	}
}

type failingWriter struct{ after int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.after <= 0 {
		return 0, errors.New("disk full")
	}
	w.after--
	return len(p), nil
}

func TestMintCountReportsWriteErrors(t *testing.T) {
	ser, _ := newSeries(t)
	err := MintCount(&failingWriter{after: 1}, ser, 100000, 2)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v, want the write error", err)
	}
}

func TestFormatUUID(t *testing.T) {
	var id [UUIDLen]byte
	for _, b := range [][]byte{make([]byte, 16), bytes.Repeat([]byte{0xff}, 16), []byte("0123456789abcdef")} {
		jwk.FormatUUID(&id, b)
		if !uuidV4.Match(id[:]) {
			t.Errorf("%x gives %s, not a UUID v4", b, id)
		}
	}
	jwk.FormatUUID(&id, []byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0})
	if string(id[:]) != "12345678-9abc-4ef0-9234-56789abcdef0" {
		t.Errorf("got %s", id)
	}
}

// echoMint "mints" a line as "<line>" so that tests see what went where.
func echoMint(dst, line []byte) ([]byte, error) {
	if bytes.HasPrefix(line, []byte("bad")) {
		return dst, errors.New("refused")
	}
	dst = append(dst, '<')
	dst = append(dst, line...)
	return append(dst, '>'), nil
}

func TestMintLines(t *testing.T) {
	var big strings.Builder
	var bigWant strings.Builder
	for i := 1; i <= 3000; i++ {
		fmt.Fprintf(&big, "line %d\n", i)
		fmt.Fprintf(&bigWant, "<line %d>\n", i)
	}
	tests := []struct {
		name, in, want string
		errLine        int
		errText        string
	}{
		{name: "empty input", in: "", want: ""},
		{name: "one line", in: "a\n", want: "<a>\n"},
		{name: "no final newline", in: "a\nb", want: "<a>\n<b>\n"},
		{name: "CRLF", in: "a\r\nb\r\n", want: "<a>\n<b>\n"},
		{name: "bare CR at the end", in: "a\r\nb\r", want: "<a>\n<b>\n"},
		{name: "longest line and a bare CR", in: strings.Repeat("y", MaxLineBytes) + "\r", want: "<" + strings.Repeat("y", MaxLineBytes) + ">\n"},
		{name: "order over many batches", in: big.String(), want: bigWant.String()},
		{name: "blank line", in: "a\n\nc\n", want: "<a>\n", errLine: 2, errText: "empty line"},
		{name: "white space line", in: "a\nb\n \t\r\nd\n", want: "<a>\n<b>\n", errLine: 3, errText: "empty line"},
		{name: "final blank line", in: "a\n\n", want: "<a>\n", errLine: 2, errText: "empty line"},
		{name: "refused line", in: "a\nb\nbad\nd\n", want: "<a>\n<b>\n", errLine: 3, errText: "refused"},
		{name: "refused line in a later batch", in: big.String()[:len(big.String())-len("line 3000\n")] + "bad\n", want: bigWant.String()[:len(bigWant.String())-len("<line 3000>\n")], errLine: 3000, errText: "refused"},
		{name: "long line", in: "a\n" + strings.Repeat("x", MaxLineBytes+1) + "\nc\n", want: "<a>\n", errLine: 2, errText: "longer than"},
		{name: "longest line", in: strings.Repeat("y", MaxLineBytes-1) + "\n", want: "<" + strings.Repeat("y", MaxLineBytes-1) + ">\n"},
	}
	for _, tt := range tests {
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/workers=%d", tt.name, workers), func(t *testing.T) {
				var out bytes.Buffer
				err := MintLines(&out, strings.NewReader(tt.in), workers, echoMint)
				if out.String() != tt.want {
					g, w := out.String(), tt.want
					if len(g) > 200 || len(w) > 200 {
						t.Fatalf("output differs (%d bytes, want %d)", len(g), len(w))
					}
					t.Fatalf("output %q, want %q", g, w)
				}
				if tt.errLine == 0 {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				var le *LineError
				if !errors.As(err, &le) || le.Line != tt.errLine || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("err = %v, want line %d: %s", err, tt.errLine, tt.errText)
				}
			})
		}
	}
}

// endless yields "line\n" forever and counts how many lines were taken.
type endless struct{ read int }

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n+5 <= len(p) {
		copy(p[n:], "line\n")
		n += 5
		e.read++
	}
	return n, nil
}

func TestMintLinesStopsReadingAtTheError(t *testing.T) {
	src := &endless{}
	calls := 0
	err := MintLines(io.Discard, src, 1, func(dst, line []byte) ([]byte, error) {
		if calls++; calls == 10 {
			return dst, errors.New("stop")
		}
		return append(dst, line...), nil
	})
	var le *LineError
	if !errors.As(err, &le) || le.Line != 10 {
		t.Fatalf("err = %v, want line 10", err)
	}
	// One reader buffer ahead at most.
	if src.read > 64<<10/5+1 {
		t.Fatalf("read %d lines: not streaming", src.read)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("device gone") }

func TestMintLinesReportsReadErrors(t *testing.T) {
	err := MintLines(io.Discard, io.MultiReader(strings.NewReader("a\n"), failingReader{}), 2, echoMint)
	if err == nil || !strings.Contains(err.Error(), "device gone") {
		t.Fatalf("err = %v, want the read error", err)
	}
}

// A producer that writes one line and waits for its token before writing
// the next (a coprocess) must get each token without sending more input.
func TestMintLinesAnswersEachLineWithoutWaitingForMore(t *testing.T) {
	for _, workers := range []int{1, 2} {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- MintLines(outW, inR, workers, echoMint)
			outW.Close()
		}()
		tokens := bufio.NewReader(outR)
		for i := range 5 {
			line := fmt.Sprintf("line %d", i)
			if _, err := io.WriteString(inW, line+"\n"); err != nil {
				t.Fatal(err)
			}
			got := make(chan string, 1)
			go func() { s, _ := tokens.ReadString('\n'); got <- s }()
			select {
			case s := <-got:
				if s != "<"+line+">\n" {
					t.Fatalf("workers=%d: got %q for %q", workers, s, line)
				}
			case <-time.After(30 * time.Second): // a liveness guard, not a speed check
				t.Fatalf("workers=%d: no token for %q until more input came: MintLines waits for a full batch", workers, line)
			}
		}
		inW.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 100)
	in := "a.b.c\r\n\nlast-no-newline-" + long + "\n" + strings.Repeat("y", 5000) + "\r\n" + strings.Repeat("w", 50) + "\r\n\r\nz"
	lr := &lineReader{br: bufio.NewReaderSize(strings.NewReader(in), 16), max: 50} // lines longer than the buffer
	type line struct {
		text string
		size int
	}
	want := []line{{"a.b.c", 5}, {"", 0}, {"last-no-newline-" + long[:35], 116}, {strings.Repeat("y", 51), 5000},
		{strings.Repeat("w", 50), 50}, {"", 0}, {"z", 1}}
	var dst []byte
	for i, w := range want {
		before := len(dst)
		var size int
		var ok bool
		dst, size, ok = lr.next(dst, false)
		if got := string(dst[before:]); !ok || got != w.text || size != w.size || lr.no != i+1 {
			t.Fatalf("line %d: %q (%d) %v, want %q (%d)", i+1, got, size, ok, w.text, w.size)
		}
	}
	if _, _, ok := lr.next(dst, false); ok || lr.err != nil {
		t.Fatalf("after the last line: %v %v", ok, lr.err)
	}
}

// Lines hands cut lines to fn with their real size and keeps going: the
// verifier's use, where an overlong token is one rejection, not the end.
func TestLinesCutsLongLines(t *testing.T) {
	in := "short\n" + strings.Repeat("z", 1000) + "\n\nlast\n"
	for _, workers := range []int{1, 2} {
		var out bytes.Buffer
		err := Lines(&out, strings.NewReader(in), LineOptions{Workers: workers, Max: 10}, func(dst []byte, l Line) ([]byte, error) {
			return fmt.Appendf(dst, "%d:%s:%d\n", l.No, l.Text, l.Size), nil
		})
		want := "1:short:5\n2:" + strings.Repeat("z", 11) + ":1000\n3::0\n4:last:4\n"
		if err != nil || out.String() != want {
			t.Fatalf("workers=%d: %q %v, want %q", workers, out.String(), err, want)
		}
	}
}

// zeros is an endless line: bytes without a newline, counted.
type zeros struct{ read int }

func (z *zeros) Read(p []byte) (int, error) {
	clear(p)
	z.read += len(p)
	return len(p), nil
}

// A line over MaxLineBytes ends --claims-from there: the rest of it is not
// read (from /dev/zero it never ends), and the error says which line.
func TestMintLinesStopsAtALongLineWithoutReadingIt(t *testing.T) {
	for _, workers := range []int{1, 2} {
		src := &zeros{}
		err := MintLines(io.Discard, io.MultiReader(strings.NewReader("a\n"), src), workers, echoMint)
		var le *LineError
		if !errors.As(err, &le) || le.Line != 2 || !strings.Contains(err.Error(), "longer than") {
			t.Fatalf("workers=%d: err = %v, want line 2 longer than the limit", workers, err)
		}
		if src.read > MaxLineBytes+2*(64<<10) {
			t.Fatalf("workers=%d: read %d bytes of the long line", workers, src.read)
		}
	}
}

// A producer that sends a bad line and waits for an answer, its end of the
// pipe still open, gets the error at once: nothing waits for more input.
func TestMintLinesReturnsAtTheErrorWithoutWaitingForInput(t *testing.T) {
	for _, workers := range []int{1, 2} {
		inR, inW := io.Pipe()
		done := make(chan error, 1)
		go func() { done <- MintLines(io.Discard, inR, workers, echoMint) }()
		if _, err := io.WriteString(inW, "a\nbad\n"); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			var le *LineError
			if !errors.As(err, &le) || le.Line != 2 {
				t.Fatalf("workers=%d: err = %v, want line 2", workers, err)
			}
		case <-time.After(30 * time.Second): // a liveness guard, not a speed check
			t.Fatalf("workers=%d: no error until the input is closed", workers)
		}
		inW.Close()
	}
}

// With stopLong, a line longer than the reader's buffer and the limit is
// given up on once it is known to be too long: the rest is left unread.
func TestLineReaderStopsAtALongLine(t *testing.T) {
	src := strings.NewReader(strings.Repeat("x", 1000) + "\nnext\n")
	lr := &lineReader{br: bufio.NewReaderSize(src, 16), max: 20}
	line, size, ok := lr.next(nil, true)
	if !ok || string(line) != strings.Repeat("x", 21) || size <= 21 || lr.no != 1 {
		t.Fatalf("got %q (%d) %v, line %d", line, size, ok, lr.no)
	}
	if left := src.Len(); left < 1000-64 {
		t.Fatalf("read on to the end of the long line: %d bytes left", left)
	}
}
