package pgstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyctl/keyctl/internal/pgtest"
)

func be64(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

func TestScanValue(t *testing.T) {
	for _, c := range []struct {
		oid  uint32
		v    []byte
		dest any
		want any // *dest after the scan; nil: an error
	}{
		{oidText, []byte("kid-1"), new(string), "kid-1"},
		{oidVarchar, []byte(""), new(string), ""},
		{oidText, nil, new(string), nil},
		{oidInt8, []byte("12345678"), new(string), nil},
		{oidText, []byte("x"), new(*string), ptr("x")},
		{oidText, nil, new(*string), (*string)(nil)},
		{oidJSONB, []byte("\x01{\"a\": 1}"), new([]byte), []byte(`{"a": 1}`)},
		{oidJSONB, []byte("\x02{}"), new([]byte), nil},
		{oidJSONB, []byte{}, new([]byte), nil},
		{oidJSON, []byte(`{}`), new([]byte), []byte(`{}`)},
		{oidJSONB, nil, new([]byte), []byte(nil)},
		{oidInt4, []byte{0, 0, 0, 1}, new([]byte), nil},
		{oidBool, []byte{1}, new(bool), true},
		{oidBool, []byte{0}, new(bool), false},
		{oidBool, []byte{2}, new(bool), nil},
		{oidBool, []byte{}, new(bool), nil},
		{oidBool, nil, new(bool), nil},
		{oidInt8, be64(-7), new(int64), int64(-7)},
		{oidInt8, []byte{0, 0, 0, 1}, new(int64), nil},
		{oidInt4, []byte{0xff, 0xff, 0xff, 0xfe}, new(int), -2},
		{oidInt2, []byte{0, 3}, new(int), 3},
		{oidText, []byte("3"), new(int), nil},
		{oidTimestamptz, be64(0), new(time.Time), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{oidTimestamptz, be64(-1), new(time.Time), time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{oidTimestamptz, be64(1_500_000), new(time.Time), time.Date(2000, 1, 1, 0, 0, 1, 500000000, time.UTC)},
		{oidTimestamptz, be64(1<<63 - 1), new(time.Time), nil},
		{oidTimestamptz, be64(-1 << 63), new(time.Time), nil},
		{oidTimestamptz, be64(0)[:7], new(time.Time), nil},
		{oidInt8, be64(0), new(time.Time), nil},
		{oidTimestamptz, be64(0), new(*time.Time), ptr(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))},
		{oidTimestamptz, nil, new(*time.Time), (*time.Time)(nil)},
		{oidText, []byte("x"), new(float64), nil},
	} {
		err := scanValue(c.oid, c.v, c.dest)
		if c.want == nil {
			if err == nil {
				t.Errorf("scanValue(%d, %q, %T) = nil error, want one", c.oid, c.v, c.dest)
			}
			continue
		}
		if err != nil {
			t.Errorf("scanValue(%d, %q, %T): %v", c.oid, c.v, c.dest, err)
			continue
		}
		if got := reflect.ValueOf(c.dest).Elem().Interface(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("scanValue(%d, %q, %T) = %#v, want %#v", c.oid, c.v, c.dest, got, c.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestScanValueCopies(t *testing.T) {
	v := []byte("\x01{}")
	var b []byte
	if err := scanValue(oidJSONB, v, &b); err != nil {
		t.Fatal(err)
	}
	v[1] = 'X' // pgconn reuses its read buffer
	if string(b) != "{}" {
		t.Fatalf("the scanned value shares the input's memory: %q", b)
	}
}

// TestWireMatchesPgx reads the same values, every column type keyctl's
// load reads and their edge cases, through pgx and through the load's own
// decoder, from a real server.
func TestWireMatchesPgx(t *testing.T) {
	uri := pgtest.NewDatabase(t)
	const q = `SELECT $1::text, NULL::text, 'x'::varchar, true, false, 42::int8, -3::int4, 7::int2,
		'{"b": [1, 2], "a": "é"}'::jsonb, NULL::jsonb, '{"z":1}'::json,
		'2000-01-01T00:00:00Z'::timestamptz, '1999-12-31 23:59:59.999999+00'::timestamptz,
		'1970-01-01 00:00:00+00'::timestamptz, '2026-12-03 19:06:07.123456+05:30'::timestamptz,
		'4713-01-01 00:00:00+00 BC'::timestamptz, '294276-12-31 23:59:59.999999+00'::timestamptz,
		NULL::timestamptz`
	arg := "kid \u00e9 ' \\"
	type row struct {
		s1         string
		s2         *string
		s3         string
		b1, b2     bool
		i8         int64
		i4, i2     int
		j1, j2, j3 []byte
		t1, t2, t3 time.Time
		t4, t5, t6 time.Time
		t7         *time.Time
	}
	dests := func(r *row) []any {
		return []any{&r.s1, &r.s2, &r.s3, &r.b1, &r.b2, &r.i8, &r.i4, &r.i2, &r.j1, &r.j2, &r.j3,
			&r.t1, &r.t2, &r.t3, &r.t4, &r.t5, &r.t6, &r.t7}
	}

	conn := connect(t, uri)
	var want row
	if err := conn.QueryRow(ctx, q, arg).Scan(dests(&want)...); err != nil {
		t.Fatal(err)
	}
	for _, tm := range []*time.Time{&want.t1, &want.t2, &want.t3, &want.t4, &want.t5, &want.t6} {
		*tm = tm.UTC()
	}

	s := New(uri, Options{})
	wc, err := s.connectWire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close(ctx)
	b := &pgconn.Batch{}
	b.ExecParams(q, [][]byte{[]byte(arg)}, nil, nil, binaryResults)
	res, err := wc.ExecBatch(ctx, b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got row
	if err := (wireRow{res[0]}).Scan(dests(&got)...); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("wire decoding differs from pgx's:\n got  %+v\n want %+v", got, want)
	}
	if got.s2 != nil || got.j2 != nil || got.t7 != nil {
		t.Fatalf("NULLs decoded as values: %+v", got)
	}

	// No row is pgx.ErrNoRows, as pgx's QueryRow says it.
	b = &pgconn.Batch{}
	b.ExecParams("SELECT 1::int8 WHERE false", nil, nil, nil, binaryResults)
	res, err = wc.ExecBatch(ctx, b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := (wireRow{res[0]}).Scan(&n); !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("no row: %v, want pgx.ErrNoRows", err)
	}
	// A column count that does not match is an error, not a partial scan.
	b = &pgconn.Batch{}
	b.ExecParams("SELECT 1::int8, 2::int8", nil, nil, nil, binaryResults)
	res, err = wc.ExecBatch(ctx, b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if err := (wireRow{res[0]}).Scan(&n); err == nil || !strings.Contains(err.Error(), "2 columns") {
		t.Fatalf("two columns scanned into one: %v", err)
	}
}

// FuzzScanValue: any bytes of any type OID into any destination keyctl
// uses either decode or give an error, never panic; a timestamp that
// decodes encodes back to the same microseconds.
func FuzzScanValue(f *testing.F) {
	f.Add(uint32(oidTimestamptz), be64(0), uint8(6))
	f.Add(uint32(oidJSONB), []byte("\x01{}"), uint8(2))
	f.Add(uint32(oidInt4), []byte{0, 0, 0, 9}, uint8(5))
	f.Add(uint32(oidBool), []byte{1}, uint8(3))
	f.Add(uint32(oidText), []byte("x"), uint8(0))
	f.Fuzz(func(t *testing.T, oid uint32, v []byte, which uint8) {
		var (
			s   string
			ps  *string
			b   []byte
			ok  bool
			i64 int64
			i   int
			tm  time.Time
			ptm *time.Time
		)
		dests := []any{&s, &ps, &b, &ok, &i64, &i, &tm, &ptm}
		d := dests[int(which)%len(dests)]
		if which&0x80 != 0 {
			v = nil
		}
		err := scanValue(oid, v, d)
		if err != nil {
			return
		}
		switch d := d.(type) {
		case *time.Time:
			us := d.Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).Microseconds()
			if d.Year() < 2200 && d.Year() > 1800 && !bytes.Equal(be64(us), v) {
				t.Fatalf("%x decoded as %v, which is %d µs", v, d, us)
			}
		case *[]byte:
			if v != nil && len(*d) > len(v) {
				t.Fatalf("%x decoded as %d bytes", v, len(*d))
			}
		}
	})
}
