package pgstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A load (what minting, jwks, verify and listing pay) talks to the server
// through pgconn, pgx's wire layer, and reads the few column types of
// keyctl's schema itself: pgx's connection builds its type map of every
// PostgreSQL type on first use, about 0.4 to 0.9 ms of a one-token
// command's start-up, to decode a dozen columns. Writes keep pgx.

// connectWire opens a wire-level connection with Connect's settings.
func (s *Store) connectWire(ctx context.Context) (*pgconn.PgConn, error) {
	cfg, err := s.config()
	if err != nil {
		return nil, err
	}
	conn, err := pgconn.ConnectConfig(ctx, &cfg.Config)
	if err != nil {
		return nil, &ConnError{Location: Redact(s.uri), Err: err}
	}
	return conn, nil
}

// Binary-format type OIDs of the columns keyctl reads.
const (
	oidBool        = 16
	oidBytea       = 17
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidJSON        = 114
	oidVarchar     = 1043
	oidTimestamptz = 1184
	oidJSONB       = 3802
)

// binaryResults asks for every result column in binary format.
var binaryResults = []int16{1}

// wireRows reads one result's rows, as pgx.Rows does.
type wireRows struct {
	res *pgconn.Result
	i   int
}

func (r *wireRows) Next() bool {
	r.i++
	return r.i <= len(r.res.Rows)
}

func (r *wireRows) Scan(dest ...any) error {
	if r.i < 1 || r.i > len(r.res.Rows) {
		return pgx.ErrNoRows
	}
	return scanWire(r.res.FieldDescriptions, r.res.Rows[r.i-1], dest)
}

func (r *wireRows) Err() error { return nil }
func (r *wireRows) Close()     {}

// wireRow is a result's only row, as pgx.Row is: no row is pgx.ErrNoRows.
type wireRow struct{ res *pgconn.Result }

func (r wireRow) Scan(dest ...any) error {
	if len(r.res.Rows) == 0 {
		return pgx.ErrNoRows
	}
	return scanWire(r.res.FieldDescriptions, r.res.Rows[0], dest)
}

// scanWire decodes one row of binary-format values into dest.
func scanWire(fields []pgconn.FieldDescription, row [][]byte, dest []any) error {
	if len(fields) != len(dest) || len(row) != len(dest) {
		return fmt.Errorf("pgstore: %d columns, %d values, scanned into %d", len(fields), len(row), len(dest))
	}
	for i, d := range dest {
		if fields[i].Format != 1 {
			return fmt.Errorf("pgstore: column %q is not in binary format", fields[i].Name)
		}
		if err := scanValue(fields[i].DataTypeOID, row[i], d); err != nil {
			return fmt.Errorf("pgstore: column %q: %w", fields[i].Name, err)
		}
	}
	return nil
}

// pgEpoch is PostgreSQL's timestamp zero, 2000-01-01 00:00:00 UTC.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// scanValue decodes v, a binary-format value of type oid (nil: NULL), into
// dest, one of the pointer types keyctl scans into. Any other type, a NULL
// where dest cannot hold one, or a value of the wrong size is an error.
func scanValue(oid uint32, v []byte, dest any) error {
	if v == nil {
		switch d := dest.(type) {
		case **string:
			*d = nil
		case **time.Time:
			*d = nil
		case *[]byte:
			*d = nil
		default:
			return fmt.Errorf("NULL scanned into %T", dest)
		}
		return nil
	}
	switch d := dest.(type) {
	case *string:
		s, err := textValue(oid, v)
		*d = s
		return err
	case **string:
		s, err := textValue(oid, v)
		*d = &s
		return err
	case *[]byte:
		b, err := bytesValue(oid, v)
		*d = b
		return err
	case *bool:
		if oid != oidBool || len(v) != 1 || v[0] > 1 {
			return typeError(oid, v, dest)
		}
		*d = v[0] == 1
	case *int64:
		n, err := intValue(oid, v, dest)
		*d = n
		return err
	case *int:
		n, err := intValue(oid, v, dest)
		*d = int(n)
		return err
	case *time.Time:
		t, err := timeValue(oid, v, dest)
		*d = t
		return err
	case **time.Time:
		t, err := timeValue(oid, v, dest)
		*d = &t
		return err
	default:
		return typeError(oid, v, dest)
	}
	return nil
}

func typeError(oid uint32, v []byte, dest any) error {
	return fmt.Errorf("cannot scan a %d-byte value of type OID %d into %T", len(v), oid, dest)
}

func textValue(oid uint32, v []byte) (string, error) {
	if oid != oidText && oid != oidVarchar {
		return "", typeError(oid, v, "")
	}
	return string(v), nil
}

// bytesValue is a copy of a json, jsonb, bytea or text value (jsonb's
// binary format is a version byte, 1, and the text).
func bytesValue(oid uint32, v []byte) ([]byte, error) {
	switch oid {
	case oidJSONB:
		if len(v) == 0 || v[0] != 1 {
			return nil, fmt.Errorf("unknown jsonb format version")
		}
		v = v[1:]
	case oidJSON, oidBytea, oidText, oidVarchar:
	default:
		return nil, typeError(oid, v, []byte(nil))
	}
	return append(make([]byte, 0, len(v)), v...), nil
}

func intValue(oid uint32, v []byte, dest any) (int64, error) {
	switch {
	case oid == oidInt8 && len(v) == 8:
		return int64(binary.BigEndian.Uint64(v)), nil
	case oid == oidInt4 && len(v) == 4:
		return int64(int32(binary.BigEndian.Uint32(v))), nil
	case oid == oidInt2 && len(v) == 2:
		return int64(int16(binary.BigEndian.Uint16(v))), nil
	}
	return 0, typeError(oid, v, dest)
}

// timeValue is a timestamptz: microseconds since 2000-01-01 UTC. The
// infinities (the largest and smallest int64) are refused: keyctl never
// writes them.
func timeValue(oid uint32, v []byte, dest any) (time.Time, error) {
	if oid != oidTimestamptz || len(v) != 8 {
		return time.Time{}, typeError(oid, v, dest)
	}
	us := int64(binary.BigEndian.Uint64(v))
	if us == 1<<63-1 || us == -1<<63 {
		return time.Time{}, fmt.Errorf("infinite timestamp")
	}
	return time.Unix(pgEpoch+us/1e6, us%1e6*1e3).UTC(), nil
}
