// Package strictjson reads JSON text the way a security token must be read,
// not the way encoding/json does: encoding/json matches member names to
// struct fields without regard to letter case and lets the last of two
// duplicate members win, which are exactly the confusions RFC 8725 section
// 3.11 and RFC 7515 section 5.2 warn about. One pass validates an object,
// refuses duplicate names at every depth (and top-level names that differ
// only in letter case), refuses strings that escape a lone UTF-16 surrogate,
// and hands back the top-level members as raw values. The verifier, the
// JWK parser and the claims reader all use it; Reader reads a document of
// a known shape (the keyring file) value by value with the same tokenizer.
// It is the only JSON tokenizer in keyctl.
package strictjson

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxDepth bounds nesting so hostile input cannot exhaust the stack.
const MaxDepth = 64

// ErrDuplicateMember matches (errors.Is) an *Error about a repeated name.
var ErrDuplicateMember = errors.New("duplicate member name")

// Member is one top-level member: its unescaped name and its raw value.
type Member struct {
	Name  []byte
	Value []byte
}

// Error says what is wrong with an object.
type Error struct {
	// Duplicate marks a member name that repeats; Dup is that name (which
	// may be "": {"":0,"":0} repeats the empty name).
	Duplicate bool
	Dup       string
	FoldA     string // two top-level names that differ only in letter case
	FoldB     string
	Message   string // a syntax problem
	// Surrogate marks a string escaping a lone UTF-16 surrogate: valid
	// JSON syntax that parsers read differently (encoding/json as U+FFFD).
	Surrogate bool
}

func (e *Error) Error() string {
	switch {
	case e.Duplicate:
		return fmt.Sprintf("duplicate member %q", e.Dup)
	case e.FoldA != "":
		return fmt.Sprintf("members %q and %q differ only in letter case", e.FoldA, e.FoldB)
	}
	return e.Message
}

// NameClash reports whether the error is about member names rather than
// syntax.
func (e *Error) NameClash() bool { return e.Duplicate || e.FoldA != "" }

// Is lets errors.Is(err, ErrDuplicateMember) find a repeated name.
func (e *Error) Is(target error) bool { return target == ErrDuplicateMember && e.NameClash() }

// CheckObject reports whether data is exactly one JSON object, as
// ScanObject checks it, without keeping its members.
func CheckObject(data []byte) error {
	_, err := ScanObject(data, nil)
	return err
}

// scanner is the one JSON tokenizer: ScanObject, CheckObject and Strings
// scan with it, and so does Reader.
type scanner struct {
	data []byte
	pos  int
	// truncated, when set, is the error for input that ends inside a
	// value (Reader's ErrTruncated); ScanObject says where instead.
	truncated error
	// utf8Unchecked: the input was not checked as a whole (Reader), so
	// str checks each string with bytes above 0x7f.
	utf8Unchecked bool
	// lax: value checks syntax only, skipping strings to their closing
	// quote and not comparing member names (Reader.Raw).
	lax bool
}

// ended returns the error for input that ends where msg was expected.
func (s *scanner) ended(msg string) error {
	if s.truncated != nil {
		return s.truncated
	}
	return s.errorf("%s", msg)
}

// ScanObject checks that data is exactly one JSON object in valid UTF-8
// with no repeated member names at any depth, and returns its top-level
// members appended to dst[:0]. The top level is scanned here rather than
// by the recursive object method so that dst, usually a caller's stack
// array, does not escape to the heap.
func ScanObject(data []byte, dst []Member) ([]Member, error) {
	if !utf8.Valid(data) {
		return nil, &Error{Message: "not valid UTF-8"}
	}
	s := scanner{data: data}
	out := dst[:0]
	var big map[string]struct{}
	s.skipSpace()
	if s.pos >= len(s.data) || s.data[s.pos] != '{' {
		return nil, &Error{Message: "not a JSON object"}
	}
	s.pos++
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
	} else {
		for done := false; !done; {
			s.skipSpace()
			if s.pos >= len(s.data) || s.data[s.pos] != '"' {
				return nil, s.errorf("expected a member name")
			}
			name, err := s.str()
			if err != nil {
				return nil, err
			}
			if big == nil {
				for _, m := range out {
					if bytes.Equal(m.Name, name) {
						return nil, &Error{Duplicate: true, Dup: string(name)}
					}
				}
				if len(out) >= 16 {
					big = make(map[string]struct{}, 2*len(out))
					for _, m := range out {
						big[string(m.Name)] = struct{}{}
					}
				}
			}
			if big != nil {
				if _, dup := big[string(name)]; dup {
					return nil, &Error{Duplicate: true, Dup: string(name)}
				}
				big[string(name)] = struct{}{}
			}
			s.skipSpace()
			if s.pos >= len(s.data) || s.data[s.pos] != ':' {
				return nil, s.errorf("expected ':'")
			}
			s.pos++
			s.skipSpace()
			vstart := s.pos
			if err := s.value(1); err != nil {
				return nil, err
			}
			out = append(out, Member{Name: name, Value: s.data[vstart:s.pos]})
			s.skipSpace()
			if s.pos >= len(s.data) {
				return nil, s.errorf("unexpected end")
			}
			switch s.data[s.pos] {
			case ',':
				s.pos++
			case '}':
				s.pos++
				done = true
			default:
				return nil, s.errorf("expected ',' or '}'")
			}
		}
	}
	s.skipSpace()
	if s.pos != len(s.data) {
		return nil, s.errorf("unexpected data after the JSON object")
	}
	if err := foldDuplicates(out); err != nil {
		return nil, err
	}
	return out, nil
}

// foldDuplicates refuses top-level names equal but for letter case ("exp"
// and "EXP"): a Go consumer that unmarshals verified claims into a struct
// would read either one.
func foldDuplicates(ms []Member) error {
	if len(ms) <= 16 {
		for i := range ms {
			for j := i + 1; j < len(ms); j++ {
				if bytes.EqualFold(ms[i].Name, ms[j].Name) {
					return &Error{FoldA: string(ms[i].Name), FoldB: string(ms[j].Name)}
				}
			}
		}
		return nil
	}
	seen := make(map[string]int, len(ms))
	for i, m := range ms {
		k := foldKey(m.Name)
		if j, ok := seen[k]; ok {
			return &Error{FoldA: string(ms[j].Name), FoldB: string(m.Name)}
		}
		seen[k] = i
	}
	return nil
}

// foldKey maps a name to a key shared by exactly the names
// bytes.EqualFold treats as equal: each rune becomes the smallest rune of
// its Unicode simple-folding orbit. bytes.ToLower would not do: it leaves
// "ſ" (long s) and "K" (Kelvin sign) apart from "s" and "k", which
// EqualFold, and encoding/json's field matching, join.
func foldKey(name []byte) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range string(name) {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// loneSurrogate reports whether a JSON string literal (quotes included)
// has a \uD800-\uDFFF escape that is not half of a surrogate pair. Such a
// string is not Unicode text (RFC 8259 section 8.2, RFC 7493 section 2.1),
// and parsers disagree on what it means.
func loneSurrogate(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+1 >= len(raw) || raw[i+1] != 'u' {
			i++ // a one-character escape: skip what it escapes
			continue
		}
		r, ok := hex4(raw, i+2)
		if !ok {
			return false // a bad escape, refused by unquote
		}
		i += 5
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true // a low half with no high half before it
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
				return true
			}
			lo, ok := hex4(raw, i+3)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 6
		}
	}
	return false
}

// hex4 reads four hex digits at raw[at:].
func hex4(raw []byte, at int) (rune, bool) {
	if at+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func (s *scanner) errorf(format string, args ...any) error {
	return &Error{Message: fmt.Sprintf("invalid JSON at offset %d: %s", s.pos, fmt.Sprintf(format, args...))}
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) value(depth int) error {
	if depth > MaxDepth {
		return s.errorf("nested too deeply")
	}
	s.skipSpace()
	if s.pos >= len(s.data) {
		return s.ended("unexpected end")
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(depth)
	case c == '[':
		return s.array(depth)
	case c == '"' && s.lax:
		return s.skipString()
	case c == '"':
		_, err := s.str()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	default:
		return s.errorf("unexpected character %q", c)
	}
}

// skipString moves past a string to its closing quote, honouring
// backslashes, without looking at what it holds (lax scanning).
func (s *scanner) skipString() error {
	i := s.pos + 1
	for {
		j := bytes.IndexByte(s.data[i:], '"')
		if j < 0 {
			s.pos = len(s.data)
			return s.ended("unterminated string")
		}
		q := i + j
		backslashes := 0
		for k := q - 1; k > s.pos && s.data[k] == '\\'; k-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			s.pos = q + 1
			return nil
		}
		i = q + 1
	}
}

func (s *scanner) literal(word string) error {
	if len(s.data)-s.pos < len(word) && string(s.data[s.pos:]) == word[:len(s.data)-s.pos] {
		return s.ended("bad literal")
	}
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		return s.errorf("bad literal")
	}
	s.pos += len(word)
	return nil
}

func (s *scanner) digits() int {
	n := 0
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
		n++
	}
	return n
}

func (s *scanner) number() error {
	if s.data[s.pos] == '-' {
		s.pos++
	}
	if s.pos < len(s.data) && s.data[s.pos] == '0' {
		s.pos++
	} else if s.digits() == 0 {
		return s.badNumber()
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if s.digits() == 0 {
			return s.badNumber()
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return s.badNumber()
		}
	}
	return nil
}

func (s *scanner) badNumber() error {
	if s.pos >= len(s.data) {
		return s.ended("bad number")
	}
	return s.errorf("bad number")
}

// str scans a string and returns its unescaped contents; escapes are
// decoded so that "alg" and "\u0061lg" count as the same member name.
func (s *scanner) str() ([]byte, error) {
	start := s.pos
	data := s.data
	i := start + 1 // past the opening quote
	escaped, high := false, false
	for {
		// Eight bytes at a time while none can be special (see
		// specialIn), then byte by byte to the one that is.
		for i+8 <= len(data) && !specialIn(binary.LittleEndian.Uint64(data[i:])) {
			i += 8
		}
		for i < len(data) && plain[data[i]] {
			i++
		}
		if i >= len(data) {
			s.pos = len(data)
			return nil, s.ended("unterminated string")
		}
		switch c := data[i]; {
		case c == '"':
			i++
			s.pos = i
			raw := data[start:i]
			if high && s.utf8Unchecked && !utf8.Valid(raw) {
				s.pos = start
				return nil, s.errorf("string is not valid UTF-8")
			}
			if !escaped {
				return raw[1 : len(raw)-1], nil
			}
			if loneSurrogate(raw) {
				// encoding/json would turn it into U+FFFD and other
				// parsers into something else: one token, two readings.
				s.pos = start // the error names where the string starts
				err := s.errorf("string escapes a lone UTF-16 surrogate").(*Error)
				err.Surrogate = true
				return nil, err
			}
			out, ok := Unquote(raw)
			if !ok {
				s.pos = start
				return nil, s.errorf("bad string escape")
			}
			return []byte(out), nil
		case c == '\\':
			escaped = true
			i += 2
		case c < 0x20:
			s.pos = i
			return nil, s.errorf("control character in string")
		default: // 0x80 and above
			high = true
			i++
		}
	}
}

// specialIn reports whether any of the eight bytes in x may be one that
// ends a run of plain bytes: a quote, a backslash, a control character
// or a byte of 0x80 or above. It may report true for none (the byte loop
// then finds out), never false for one.
func specialIn(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (ones * '"')
	backslash := x ^ (ones * '\\')
	return ((quote-ones)&^quote|(backslash-ones)&^backslash|(x-ones*0x20)|x)&highs != 0
}

// plain marks the bytes a string holds as they are: not the closing
// quote, a backslash, a control character or part of a multi-byte
// character (which str checks apart). A table keeps str's inner loop to a
// load and a branch per byte; key material is long strings of them.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (s *scanner) object(depth int) error {
	s.pos++ // '{'
	var names nameSet
	s.skipSpace()
	if s.pos >= len(s.data) {
		return s.ended("expected a member name")
	}
	if s.data[s.pos] == '}' {
		s.pos++
		return nil
	}
	for {
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.ended("expected a member name")
		}
		if s.data[s.pos] != '"' {
			return s.errorf("expected a member name")
		}
		if s.lax {
			if err := s.skipString(); err != nil {
				return err
			}
		} else if name, err := s.str(); err != nil {
			return err
		} else if names.seen(name) {
			return &Error{Duplicate: true, Dup: string(name)}
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.ended("expected ':'")
		}
		if s.data[s.pos] != ':' {
			return s.errorf("expected ':'")
		}
		s.pos++
		s.skipSpace()
		if err := s.value(depth + 1); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.ended("unexpected end")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.errorf("expected ',' or '}'")
		}
	}
}

func (s *scanner) array(depth int) error {
	s.pos++ // '['
	s.skipSpace()
	if s.pos >= len(s.data) {
		return s.ended("unexpected end")
	}
	if s.data[s.pos] == ']' {
		s.pos++
		return nil
	}
	for {
		if err := s.value(depth + 1); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.ended("unexpected end")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.errorf("expected ',' or ']'")
		}
	}
}

// nameSet finds repeated member names: a scan while the object is small,
// a map once it is not, so a hostile object of thousands of members costs
// linear time.
type nameSet struct {
	list [16][]byte // no allocation for the usual small object
	n    int
	set  map[string]struct{}
}

func (n *nameSet) seen(name []byte) bool {
	if n.set == nil {
		for _, x := range n.list[:n.n] {
			if bytes.Equal(x, name) {
				return true
			}
		}
		if n.n < len(n.list) {
			n.list[n.n] = name
			n.n++
			return false
		}
		n.set = make(map[string]struct{}, 64)
		for _, x := range n.list {
			n.set[string(x)] = struct{}{}
		}
	}
	if _, dup := n.set[string(name)]; dup {
		return true
	}
	n.set[string(name)] = struct{}{}
	return false
}

// Unquote decodes a JSON string literal (quotes included).
func Unquote(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var out string
	if err := json.Unmarshal(raw, &out); err != nil {
		return "", false
	}
	return out, true
}

// Kind names the JSON type of a raw value, for messages: "a string",
// "an object", "an array", "a boolean", "null" or "a number".
func Kind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch c := raw[0]; {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	}
	return "a number"
}

// Strings decodes raw, a value ScanObject has already checked, as an
// array of strings. It reports false when raw is not an array or holds
// anything but strings.
func Strings(raw []byte) ([]string, bool) {
	s := scanner{data: raw}
	s.skipSpace()
	if s.pos >= len(s.data) || s.data[s.pos] != '[' {
		return nil, false
	}
	s.pos++
	out := []string{}
	for {
		s.skipSpace()
		if s.pos < len(s.data) && s.data[s.pos] == ']' && len(out) == 0 {
			s.pos++
			break
		}
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return nil, false
		}
		v, err := s.str()
		if err != nil {
			return nil, false
		}
		out = append(out, string(v))
		s.skipSpace()
		if s.pos >= len(s.data) {
			return nil, false
		}
		if c := s.data[s.pos]; c == ']' {
			s.pos++
			break
		} else if c != ',' {
			return nil, false
		}
		s.pos++
	}
	s.skipSpace()
	return out, s.pos == len(s.data)
}
