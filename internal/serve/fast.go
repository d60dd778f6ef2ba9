package serve

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The fast path. Nearly every request a key endpoint gets is the same GET
// of the JWKS, and after a rotation every verifier of every service sends
// it at once. net/http spends most of its time on that request building
// things the answer does not need (a Request, a header map, a response
// writer, chunking decisions), so a plain-HTTP Serve answers it straight
// from the prepared bytes: it reads the request head, and when it is a
// well-formed GET or HEAD of a JWKS path that nothing in it could change
// the meaning of, writes the prepared status line, headers, Date and body
// in one write. The answer is the one net/http gives, byte for byte but
// for the Date (TestFastPathMatchesNetHTTP and FuzzFastPath check it).
//
// Anything else (another path or method, a query, HTTP/1.0, a body, an
// Expect, Upgrade or Connection header, a missing or odd Host, bare LF
// line endings, a head over the limit, TLS) hands the connection, with
// the bytes already read, to net/http for good: the fast path only ever
// answers requests it is sure about, and net/http stays the reference
// for every other byte that can arrive. One deliberate difference: the
// head limit is exact for every request, where net/http does not count
// the part of a pipelined head its read buffer already holds. The hand-off
// happens once the head is whole (or has a line net/http refuses at
// once, which it then answers at once as it would), so that a head still
// arriving at shutdown is drained rather than dropped (see handOff).

// fastServer accepts the connections of one listener and answers their
// JWKS requests, handing every other connection to net/http through
// handoff.
type fastServer struct {
	h       *Handler
	srv     *http.Server
	log     *requestLog
	ln      net.Listener
	handoff *handoffListener

	limit      int           // largest request head, bytes (SetHeaderLimit)
	readHeader time.Duration // to read a head, from its first byte (or the connection's start)
	idle       time.Duration // to wait for the next request on a kept-alive connection
	write      time.Duration // to write a response

	closing atomic.Bool
	drainBy atomic.Int64 // UnixNano when the shutdown's grace ends
	cut     atomic.Bool  // a request under way at shutdown was not finished in the grace

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// newFastServer returns the fast path for srv on ln, or nil when srv does
// not serve a *Handler through LogRequests (NewServer does) or serves TLS.
func newFastServer(srv *http.Server, ln net.Listener) *fastServer {
	lh, ok := srv.Handler.(*loggedHandler)
	if !ok || srv.TLSConfig != nil || srv.ConnState != nil || srv.ConnContext != nil {
		return nil // hooks the fast path would bypass: net/http serves all
	}
	h, ok := lh.next.(*Handler)
	if !ok {
		return nil
	}
	limit := srv.MaxHeaderBytes
	if limit <= 0 {
		limit = http.DefaultMaxHeaderBytes
	}
	s := &fastServer{
		h: h, srv: srv, log: lh.log, ln: ln,
		handoff:    newHandoffListener(ln.Addr()),
		limit:      limit + headerSlop,
		readHeader: firstNonZero(srv.ReadHeaderTimeout, srv.ReadTimeout),
		idle:       firstNonZero(srv.IdleTimeout, srv.ReadTimeout),
		write:      srv.WriteTimeout,
		conns:      make(map[net.Conn]struct{}),
	}
	return s
}

func firstNonZero(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}

// acceptLoop accepts connections until the listener closes. A temporary
// error (out of descriptors) backs off as net/http does; any other ends
// net/http's Serve with it.
func (s *fastServer) acceptLoop() {
	var delay time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			s.handoff.fail(err)
			return
		}
		delay = 0
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// untrack forgets c (closed, or handed to net/http).
func (s *fastServer) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// shutdown stops accepting, closes idle connections and lets the others
// finish the request they are on until the grace ends at by.
func (s *fastServer) shutdown(by time.Time) {
	s.drainBy.Store(by.UnixNano())
	s.mu.Lock()
	s.closing.Store(true)
	s.ln.Close()
	// Wake every connection waiting to read: an idle one then closes, one
	// with part of a request read goes on reading it until the grace ends.
	// (A connection sets its read deadline before it checks closing, so
	// this wake-up, after the store above, is never overwritten.)
	now := time.Now()
	for c := range s.conns {
		c.SetReadDeadline(now)
	}
	s.mu.Unlock()
}

// wait waits for the connections to finish until done is closed, then
// closes those left and reports whether a request under way was cut off.
func (s *fastServer) wait(done <-chan struct{}) (cut bool) {
	finished := make(chan struct{})
	go func() { s.wg.Wait(); close(finished) }()
	select {
	case <-finished:
		return s.cut.Load()
	case <-done:
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
		cut = true
	}
	s.mu.Unlock()
	<-finished
	return cut || s.cut.Load()
}

// maxFastBuffer is what a connection's input buffer starts at; it grows
// to the head limit only for a head that needs it.
const maxFastBuffer = 4 << 10

// copyLimit is the largest response copied into one buffer for a single
// write; a larger body goes out with writev, uncopied.
const copyLimit = 32 << 10

// outBuffers holds the buffers responses are put together in, shared by
// the connections so that an idle one holds none (at most copyLimit bytes
// each, plus the head).
var outBuffers = sync.Pool{New: func() any { b := make([]byte, 0, copyLimit); return &b }}

// serveConn answers c's requests until it closes, idles out, fails, or
// sends one the fast path leaves to net/http. Its timeouts are net/http's:
// the header timeout runs from the connection's start for its first
// request and from a later request's fourth byte (net/http waits for four
// bytes as idle), the idle timeout between requests.
func (s *fastServer) serveConn(c net.Conn) {
	handed := false
	defer func() {
		if !handed {
			c.Close()
		}
		s.untrack(c)
	}()
	var raw syscall.RawConn // for sendfile
	if sc, ok := c.(syscall.Conn); ok {
		raw, _ = sc.SyscallConn()
	}
	handOff := func(pending []byte, headBy time.Time) {
		handed = true
		s.handOff(c, pending, headBy)
	}
	var buf []byte
	start, end := 0, 0 // buf[start:end]: read and not yet answered
	first := true
	for {
		var headBy time.Time // when the head being read must be whole; zero: no bound
		if start == end {
			start, end = 0, 0
			if len(buf) != min(maxFastBuffer, s.limit+1) {
				// New, or grown for one large head: an idle connection
				// holds no more than net/http's would.
				buf = make([]byte, min(maxFastBuffer, s.limit+1))
			}
			if first {
				headBy = setReadTimeout(c, s.readHeader)
			} else {
				setReadTimeout(c, s.idle)
			}
		} else if !first && end-start >= 4 {
			// Pipelined: the next request is already under way.
			headBy = setReadTimeout(c, s.readHeader)
		} else if !first {
			setReadTimeout(c, s.idle) // a byte or three: still idle, to net/http
		}
		// Checked after the deadline is set: see shutdown.
		if s.closing.Load() && (start == end || !first && end-start < 4) {
			return // idle at shutdown
		}
		headLen := 0
		// Where the scans of this head resume (from its start); lax once
		// scanHead has refused it and headForNetHTTP decides instead.
		scanned, laxScanned, lax := 0, 0, false
		for {
			n := 0
			if !lax && (first || end-start >= 4) {
				var ok bool
				n, scanned, ok = scanHead(buf[start:end], scanned)
				lax = !ok
			}
			if lax || n == 0 && (first || end-start >= 4) {
				// net/http answers a line it refuses as soon as the line
				// is whole, before the rest of the head: so does this, for
				// a head still arriving (a whole head is the fast path's,
				// which hands off what it does not take).
				var now bool
				if now, laxScanned = headForNetHTTP(buf[start:end], laxScanned); now {
					handOff(buf[start:end], headBy)
					return
				}
			}
			if n > s.limit || n == 0 && end-start > s.limit {
				handOff(buf[start:end], headBy) // net/http answers 431
				return
			}
			if n > 0 {
				headLen = n
				break
			}
			if end == len(buf) {
				if start > 0 {
					end = copy(buf, buf[start:end])
					start = 0
				}
				if end == len(buf) {
					buf = append(buf, make([]byte, min(2*len(buf), s.limit+1)-len(buf))...)
				}
			}
			before := end - start
			m, err := c.Read(buf[end:])
			end += m
			if !first && before < 4 && end-start >= 4 {
				headBy = setReadTimeout(c, s.readHeader)
			}
			if err == nil || m > 0 && !errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if !s.closing.Load() {
					// The idle or header timeout: net/http closes the
					// connection without an answer, and so does this.
					return
				}
				if start == end || !first && end-start < 4 {
					return // idle at shutdown
				}
				// Woken by shutdown (or timed out since) with a request
				// under way: it gets the rest of its header time, within
				// the grace; Serve reports it cut off if the grace ends
				// first.
				drainBy := time.Unix(0, s.drainBy.Load())
				by, graceFirst := drainBy, true
				if !headBy.IsZero() && headBy.Before(drainBy) {
					by, graceFirst = headBy, false
				}
				if time.Now().Before(by) {
					c.SetReadDeadline(by)
					continue
				}
				if graceFirst {
					s.cut.Store(true)
				}
				return
			}
			// A partial head and then EOF or an error: net/http answers
			// some of these (400); let it.
			if start < end && (first || end-start >= 4) {
				handOff(buf[start:end], headBy)
			}
			return
		}
		first = false
		req, ok := parseHead(buf[start : start+headLen])
		p := s.h.live.Load()
		if !ok || p.snap == nil {
			handOff(buf[start:end], headBy)
			return
		}
		began := s.log.now() // for the log line; deadlines and Date use the real clock
		now := time.Now()
		status, hdr, body := http.StatusOK, p.fastOK, p.body
		if req.inm != "" && noneMatch(req.inm, p.etag) {
			status, hdr, body = http.StatusNotModified, p.fastNotMod, nil
		}
		if req.head {
			body = nil
		}
		// At shutdown this answer is the connection's last: say so, as
		// net/http does once Shutdown began (Connection: close, after the
		// Date). Decided once, before the write: a shutdown that begins
		// after it leaves the connection open to be closed when idle, as
		// net/http closes its idle ones, or to answer a pipelined request
		// it already holds with Connection: close.
		last := s.closing.Load()
		date := dates.line(now, last)
		if s.write > 0 {
			c.SetWriteDeadline(now.Add(s.write))
		}
		var err error
		switch {
		case len(hdr)+len(date)+len(body) <= copyLimit:
			out := outBuffers.Get().(*[]byte)
			*out = append(append(append((*out)[:0], hdr...), date...), body...)
			_, err = c.Write(*out)
			outBuffers.Put(out)
		case p.bodyFile != nil && raw != nil:
			out := outBuffers.Get().(*[]byte)
			*out = append(append((*out)[:0], hdr...), date...)
			_, err = p.bodyFile.send(raw, *out)
			outBuffers.Put(out)
		default:
			bufs := net.Buffers{hdr, date, body}
			_, err = bufs.WriteTo(c)
		}
		start += headLen
		if m := s.h.metrics; m != nil {
			m.count(req.path, status)
		}
		s.log.record(bgContext, req.method, req.path, status, len(body), began, "", c.RemoteAddr())
		if err != nil || last {
			return
		}
	}
}

// setReadTimeout sets c's read deadline d from now, or clears it when d is
// 0, and returns the deadline (zero when none).
func setReadTimeout(c net.Conn, d time.Duration) time.Time {
	var by time.Time
	if d > 0 {
		by = time.Now().Add(d)
	}
	c.SetReadDeadline(by)
	return by
}

// handOff gives c to net/http with the bytes read from it so far. net/http
// starts the request's header timeout afresh; headBy, the deadline the fast
// path had already given that head, caps it, so a slow client does not get
// the header time twice.
//
// Once shutdown has begun, net/http's Serve takes no more connections
// (and net/http drops a request it finishes reading after its Shutdown
// began), so a request that was under way at the stop signal is answered
// by serveLast instead, within the same grace as the fast path's own.
func (s *fastServer) handOff(c net.Conn, pending []byte, headBy time.Time) {
	c.SetReadDeadline(time.Time{})
	c.SetWriteDeadline(time.Time{})
	rc := &replayConn{Conn: c, pending: bytes.Clone(pending), headBy: headBy, log: s.log}
	if s.closing.Load() {
		s.serveLast(rc)
		return
	}
	s.handoff.give(rc)
}

// serveLast answers the one request of c with a server of its own,
// configured as net/http's but with keep-alives off (so the answer says
// Connection: close and the connection closes after it). It returns once c
// is closed: c stays tracked meanwhile, so wait closes it if the grace ends
// first and reports the request cut off.
func (s *fastServer) serveLast(c net.Conn) {
	closed := make(chan struct{})
	one := &http.Server{
		Handler:           s.srv.Handler,
		ReadTimeout:       s.srv.ReadTimeout,
		ReadHeaderTimeout: s.srv.ReadHeaderTimeout,
		WriteTimeout:      s.srv.WriteTimeout,
		IdleTimeout:       s.srv.IdleTimeout,
		MaxHeaderBytes:    s.srv.MaxHeaderBytes,
		ErrorLog:          s.srv.ErrorLog,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateClosed || st == http.StateHijacked {
				close(closed)
			}
		},
	}
	one.SetKeepAlivesEnabled(false)
	one.Serve(&oneConnListener{c: c}) // returns once c is taken; c is served on
	<-closed
}

// oneConnListener yields one connection, then reports itself closed.
type oneConnListener struct {
	c    net.Conn
	done bool
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if l.done {
		return nil, net.ErrClosed
	}
	l.done = true
	return l.c, nil
}

func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return l.c.LocalAddr() }

// fastRequest is what the fast path needs of a request.
type fastRequest struct {
	method string // GET or HEAD
	head   bool
	path   string
	inm    string // the If-None-Match values, joined with ","
}

// scanHead looks for the end of a request head at the start of b. It
// returns its length (0: more bytes needed), or ok false when b is not a
// head the fast path takes: empty lines before it, or a line ending that
// is not CRLF (a bare LF or CR), which net/http reads its own way. It
// scans from from, the start of a line, and returns next, where the next
// call on more of the same head can start (the start of the line it did
// not finish), so a head arriving a byte at a time costs linear time.
func scanHead(b []byte, from int) (n, next int, ok bool) {
	lineStart := from
	for i := from; i < len(b); i++ {
		switch b[i] {
		case '\r':
			if i+1 == len(b) {
				return 0, lineStart, true
			}
			if b[i+1] != '\n' {
				return 0, lineStart, false
			}
			if i == lineStart {
				if i == 0 {
					return 0, 0, false // an empty line before the request line
				}
				return i + 2, lineStart, true
			}
			i++
			lineStart = i + 1
		case '\n':
			return 0, lineStart, false
		}
	}
	return 0, lineStart, true
}

// headForNetHTTP reports, for the start b of a request the fast path
// leaves to net/http (scanHead said not ok), whether to hand it over now
// or read on: net/http reads a head line by line, answering a malformed
// line at once, so the head is handed over when its end (a blank line,
// LF or CRLF) or a line net/http refuses has arrived. Until then the fast
// path holds it, so a head still arriving at the stop signal is drained
// like the fast path's own (see handOff). When unsure it hands over.
// It starts at from, the start of a line, and returns next, where to start
// on more of the same head.
func headForNetHTTP(b []byte, from int) (now bool, next int) {
	for {
		nl := bytes.IndexByte(b[from:], '\n')
		if nl < 0 {
			return false, from // net/http would wait for the line's end too
		}
		line := bytes.TrimSuffix(b[from:from+nl], []byte("\r"))
		if len(line) == 0 {
			return true, from // the end of the head, or an empty request line
		}
		if from == 0 && !plainRequestLine(line) || from > 0 && !plainHeaderLine(line) {
			return true, from
		}
		from += nl + 1
	}
}

// plainRequestLine reports whether line is METHOD SP TARGET SP
// HTTP/1.0 or HTTP/1.1, with no control character, and a target net/http
// parses (it parses the target before reading any header, and answers 400
// at once when it cannot).
func plainRequestLine(line []byte) bool {
	method, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(method) == 0 {
		return false
	}
	for _, c := range method {
		if !isTokenChar(c) {
			return false
		}
	}
	target, proto, ok := bytes.Cut(rest, []byte(" "))
	if !ok || len(target) == 0 || string(proto) != "HTTP/1.1" && string(proto) != "HTTP/1.0" {
		return false
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	raw := string(target)
	if string(method) == http.MethodConnect && !strings.HasPrefix(raw, "/") {
		raw = "http://" + raw // as net/http's ReadRequest reads an authority
	}
	_, err := url.ParseRequestURI(raw)
	return err == nil
}

// plainHeaderLine reports whether line is NAME: VALUE, NAME a token and
// VALUE free of control characters but tab (no folded line).
func plainHeaderLine(line []byte) bool {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return false
	}
	for _, c := range line[:colon] {
		if !isTokenChar(c) {
			return false
		}
	}
	for _, c := range line[colon+1:] {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// parseHead reads a request head (CRLF line endings, the blank line
// included) and reports whether the fast path answers it.
func parseHead(head []byte) (fastRequest, bool) {
	var r fastRequest
	line, rest, _ := bytes.Cut(head, crlf)
	switch {
	case bytes.HasPrefix(line, []byte("GET ")):
		r.method, line = http.MethodGet, line[4:]
	case bytes.HasPrefix(line, []byte("HEAD ")):
		r.method, r.head, line = http.MethodHead, true, line[5:]
	default:
		return r, false
	}
	target, proto, ok := bytes.Cut(line, []byte(" "))
	if !ok || string(proto) != "HTTP/1.1" {
		return r, false
	}
	switch string(target) {
	case JWKSPath:
		r.path = JWKSPath
	case SupabaseJWKSPath:
		r.path = SupabaseJWKSPath
	default:
		return r, false
	}
	hosts := 0
	var inm []string
	for {
		line, rest, _ = bytes.Cut(rest, crlf)
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return r, false
		}
		name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
		for _, c := range name {
			if !isTokenChar(c) {
				return r, false
			}
		}
		for _, c := range value {
			if c < ' ' && c != '\t' || c == 0x7f {
				return r, false
			}
		}
		switch {
		case asciiEqualFold(name, "Host"):
			hosts++
			if len(value) == 0 {
				return r, false
			}
			for _, c := range value {
				if !isHostChar(c) {
					return r, false
				}
			}
		case asciiEqualFold(name, "If-None-Match"):
			inm = append(inm, string(value))
		case asciiEqualFold(name, "Connection"):
			if !asciiEqualFold(value, "keep-alive") {
				return r, false
			}
		case asciiEqualFold(name, "Content-Length"), asciiEqualFold(name, "Transfer-Encoding"),
			asciiEqualFold(name, "Expect"), asciiEqualFold(name, "Upgrade"),
			asciiEqualFold(name, "Trailer"), asciiEqualFold(name, "TE"),
			asciiEqualFold(name, "HTTP2-Settings"):
			return r, false
		}
	}
	if hosts != 1 {
		return r, false
	}
	if len(inm) > 0 {
		r.inm = strings.Join(inm, ",")
	}
	return r, true
}

var crlf = []byte("\r\n")

// bgContext is the context of the fast path's log lines.
var bgContext = context.Background()

// isTokenChar reports whether c may appear in a header name (RFC 9110
// tchar).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isHostChar reports whether c may appear in a Host the fast path takes: a
// name, an IPv4 or bracketed IPv6 address, a port. Anything rarer goes to
// net/http.
func isHostChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._:[]", c) >= 0
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// wireHead is a response's status line and headers as net/http writes
// them (names in sorted order), without the Date and the blank line that
// the fast path adds per request.
func wireHead(status int, hs []header) []byte {
	sorted := append([]header(nil), hs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	b := []byte("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status))
	b = append(b, crlf...)
	for _, h := range sorted {
		for _, v := range h.value {
			b = append(b, h.name...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, crlf...)
		}
	}
	return b[:len(b):len(b)]
}

// dates caches the Date header line of the current second.
var dates dateCache

type dateCache struct{ p atomic.Pointer[dateLine] }

type dateLine struct {
	sec  int64
	line []byte // "Date: ...\r\n\r\n": the last header and the blank line
	last []byte // "Date: ...\r\nConnection: close\r\n\r\n", for a connection's last answer
}

// line returns the Date line of now and the blank line after it, with
// Connection: close between them for a connection's last answer (where
// net/http puts it: after the Date).
func (d *dateCache) line(now time.Time, last bool) []byte {
	sec := now.Unix()
	e := d.p.Load()
	if e == nil || e.sec != sec {
		b := append([]byte("Date: "), now.UTC().AppendFormat(nil, http.TimeFormat)...)
		b = append(b, "\r\n"...)
		n := len(b)
		b = append(b, "Connection: close\r\n\r\n"...)
		line := append(b[:n:n], "\r\n"...)
		e = &dateLine{sec: sec, line: line[:len(line):len(line)], last: b[:len(b):len(b)]}
		d.p.Store(e)
	}
	if last {
		return e.last
	}
	return e.line
}

// handoffListener is the listener net/http serves: it yields the
// connections the fast path hands over.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	err   error // a permanent accept error, returned once closed
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

// give hands c to net/http; after Close it closes c instead.
func (l *handoffListener) give(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// fail ends net/http's Serve with err.
func (l *handoffListener) fail(err error) {
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
	l.Close()
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// replayConn is a connection whose first reads return bytes already read
// from it, and which logs the answers net/http gives on it by itself.
type replayConn struct {
	net.Conn
	pending []byte
	// headBy caps the first read deadline net/http sets, the one for the
	// head of its first request (zero: no cap).
	headBy time.Time
	capped bool
	log    *requestLog // nil: no logging
}

// Write passes p on. When p is an answer net/http gives by itself, which
// no handler sees (see netHTTPAnswer), it logs it as LogRequests logs the
// handler's: with no method or path, since none was read, and a duration
// from when the answer was ready, as the others count from when the head
// was.
func (c *replayConn) Write(p []byte) (int, error) {
	if c.log == nil {
		return c.Conn.Write(p)
	}
	status, body, ok := netHTTPAnswer(p)
	if !ok {
		return c.Conn.Write(p)
	}
	began := c.log.now()
	n, err := c.Conn.Write(p)
	c.log.record(bgContext, "", "", status, max(0, body-(len(p)-n)), began, "", c.RemoteAddr())
	return n, err
}

// netHTTPAnswer recognises, in one write to a connection, an answer
// net/http gives without calling the handler, and returns its status and
// body length. Those are:
//
//   - to a request it cannot read (400, 431 for a head over the limit, 501
//     for a transfer coding, 505 for a version): one write of a status
//     line, then exactly "Content-Type: text/plain; charset=utf-8",
//     "Connection: close", the blank line and a short text;
//   - to an Expect other than 100-continue: 417, "Connection: close" and
//     then the Date.
//
// No write of an answer of this package's handler starts so: net/http
// writes a Date between a handler's headers and the blank line, the
// handler sets no Connection header and never answers 417, and its bodies
// (JSON, the metrics text) have no CR, so no part of one that a write
// might start with looks like a status line and headers.
func netHTTPAnswer(p []byte) (status, body int, ok bool) {
	for _, prefix := range expectationFailed {
		if rest, ok := bytes.CutPrefix(p, prefix); ok {
			_, b, _ := bytes.Cut(rest, []byte("\r\n\r\n"))
			return http.StatusExpectationFailed, len(b), true
		}
	}
	rest, ok := bytes.CutPrefix(p, []byte("HTTP/1.1 ")) // the version of all its errors
	if !ok || len(rest) < 4 || rest[3] != ' ' {
		return 0, 0, false
	}
	status, err := strconv.Atoi(string(rest[:3]))
	if err != nil || status < 400 {
		return 0, 0, false
	}
	_, rest, _ = bytes.Cut(rest, crlf)
	b, ok := bytes.CutPrefix(rest, netHTTPErrorHeaders)
	return status, len(b), ok
}

var (
	// expectationFailed starts net/http's 417, in both versions it answers.
	expectationFailed = [][]byte{
		[]byte("HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: "),
		[]byte("HTTP/1.0 417 Expectation Failed\r\nConnection: close\r\nDate: "),
	}
	// netHTTPErrorHeaders follow the status line of net/http's own errors.
	netHTTPErrorHeaders = []byte("Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")
)

// SetReadDeadline passes t on, but the first deadline no later than headBy.
func (c *replayConn) SetReadDeadline(t time.Time) error {
	if !c.capped {
		c.capped = true
		if !c.headBy.IsZero() && (t.IsZero() || t.After(c.headBy)) {
			t = c.headBy
		}
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite lets net/http half-close the connection after an error
// response, as it does on a bare TCP connection.
func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
