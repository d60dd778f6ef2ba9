package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
	"github.com/keyctl/keyctl/pkg/strictjson"
)

// Version is the keyring document version this keyctl reads and writes.
// A keyring of a higher version is refused (and never rewritten): an older
// keyctl must not drop what a newer one recorded.
const Version = 1

// MaxFileBytes bounds the keyring file read (a thousand RSA keys with a
// long history fit many times over).
const MaxFileBytes = 64 << 20

// The document on disk. Keys and history events are written one compact
// object per line, so the file stays readable and diffs stay small.
type diskDoc struct {
	Version          int             `json:"version"`
	MaxTokenLifetime string          `json:"max_token_lifetime"`
	JWKSCacheWindow  string          `json:"jwks_cache_window,omitempty"`
	Encryption       *diskEncryption `json:"encryption,omitempty"`
	Keys             []diskKey       `json:"keys"`
	History          []diskEvent     `json:"history"`
}

type diskEncryption struct {
	Scheme  string `json:"scheme"`
	DataKey string `json:"data_key"`
}

type diskKey struct {
	KID        string `json:"kid"`
	Alg        string `json:"alg"`
	State      string `json:"state"`
	Legacy     bool   `json:"legacy,omitempty"`
	Origin     string `json:"origin"`
	Created    string `json:"created_at"`
	Updated    string `json:"updated_at"`
	RotatedOut string `json:"rotated_out_at,omitempty"`
	// RotatedOutLifetime: the max token lifetime in force when the key
	// left in use (optional; keyrings before it wait the current one).
	RotatedOutLifetime string `json:"rotated_out_max_token_lifetime,omitempty"`
	// Published: when a key came back from revoked to standby (optional;
	// absent, it is published since created_at).
	Published  string `json:"published_at,omitempty"`
	Thumbprint string `json:"thumbprint,omitempty"`
	// SecretCheck: a deleted shared secret's check value (keyring.Entry).
	SecretCheck string          `json:"secret_check,omitempty"`
	Public      json.RawMessage `json:"public,omitempty"`
	Private     json.RawMessage `json:"private,omitempty"`
}

type diskEvent struct {
	At     string `json:"at"`
	Action string `json:"action"`
	KID    string `json:"kid,omitempty"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	By     string `json:"by,omitempty"`
	Note   string `json:"note,omitempty"`
}

// FormatError explains why a keyring document cannot be read.
type FormatError struct{ Reason string }

func (e *FormatError) Error() string { return e.Reason }

// VersionError reports a keyring written by a newer keyctl.
type VersionError struct{ Version int }

func (e *VersionError) Error() string {
	return fmt.Sprintf("keyring format version %d is newer than this keyctl reads (%d)", e.Version, Version)
}

func formatErr(format string, args ...any) error {
	return &FormatError{Reason: fmt.Sprintf(format, args...)}
}

// document is a parsed keyring file. The history is kept raw until asked
// for: most commands never read it, and it is the longest part of an old
// keyring.
type document struct {
	kr      *keyring.Keyring
	vault   *vault
	history []byte
}

// parse reads a keyring document cheaply: JSON syntax, no duplicate member
// names in the document's own objects, version, field syntax and the
// keyring's invariants, but no key material (see diskMaterial) and, unless
// withHistory, no history. ask supplies the passphrase when a sealed key is
// opened.
func parse(data []byte, ask func() ([]byte, error), withHistory bool) (*document, error) {
	r := strictjson.NewReader(data)
	c, err := r.Peek()
	if err != nil {
		return nil, formatErr("the file is empty")
	}
	if c != '{' {
		return nil, formatErr("not a JSON object")
	}
	raws := map[string][]byte{}
	err = r.Object(func(name string) error {
		raw, err := r.Raw()
		raws[name] = raw
		return err
	})
	if err == nil {
		err = r.End()
	}
	if errors.Is(err, strictjson.ErrTruncated) {
		return nil, formatErr("%v", strictjson.ErrTruncated)
	}
	if err != nil {
		return nil, formatErr("%v", err)
	}
	rawVersion, ok := raws["version"]
	if !ok {
		return nil, formatErr("no format version: not a keyctl keyring")
	}
	version, err := strictjson.NewReader(rawVersion).Int()
	if err != nil {
		return nil, formatErr("version: %v", err)
	}
	if version > Version {
		return nil, &VersionError{Version: version}
	}
	if version < 1 {
		return nil, formatErr("format version %d is not valid", version)
	}
	for name := range raws {
		switch name {
		case "version", "max_token_lifetime", "jwks_cache_window", "encryption", "keys", "history":
		default:
			return nil, formatErr("unknown member %q", name)
		}
	}
	kr := &keyring.Keyring{}
	if raw, ok := raws["max_token_lifetime"]; ok {
		s, err := strictjson.NewReader(raw).Str()
		d, perr := time.ParseDuration(s)
		if err != nil || perr != nil || d <= 0 {
			return nil, formatErr("max_token_lifetime %s is not a positive duration", raw)
		}
		kr.MaxTokenLifetime = d
	}
	if raw, ok := raws["jwks_cache_window"]; ok {
		s, err := strictjson.NewReader(raw).Str()
		d, perr := time.ParseDuration(s)
		if err != nil || perr != nil || d <= 0 {
			return nil, formatErr("jwks_cache_window %s is not a positive duration", raw)
		}
		kr.JWKSCacheWindow = d
	}
	var v *vault
	if raw, ok := raws["encryption"]; ok {
		enc, err := readEncryption(raw)
		if err != nil {
			return nil, formatErr("encryption: %v", err)
		}
		if enc.Scheme != SchemePBES2DataKey {
			return nil, formatErr("unknown encryption scheme %q", enc.Scheme)
		}
		if err := checkWrapped(enc.DataKey); err != nil {
			return nil, formatErr("%v", err)
		}
		v = &vault{wrapped: enc.DataKey, ask: ask}
	}
	rawKeys, ok := raws["keys"]
	if !ok {
		return nil, formatErr(`no "keys" array`)
	}
	kr.Keys = make([]*keyring.Entry, 0, 16)
	kr2 := strictjson.NewReader(rawKeys)
	if c, _ := kr2.Peek(); c != '[' {
		return nil, formatErr(`"keys" is not an array`)
	}
	err = kr2.Array(func() error {
		i := len(kr.Keys)
		d, err := readKey(kr2)
		if err != nil {
			return fmt.Errorf("key %d: %v", i, err)
		}
		e, err := d.entry(v)
		if err != nil {
			return fmt.Errorf("key %d (kid %q): %v", i, d.KID, err)
		}
		kr.Keys = append(kr.Keys, e)
		return nil
	})
	if err != nil {
		return nil, formatErr("%v", err)
	}
	doc := &document{kr: kr, vault: v, history: raws["history"]}
	if doc.history == nil {
		return nil, formatErr(`no "history" array`)
	}
	if c, _ := strictjson.NewReader(doc.history).Peek(); c != '[' {
		return nil, formatErr(`"history" is not an array`)
	}
	if err := kr.Check(); err != nil {
		return nil, formatErr("%v", strings.TrimPrefix(err.Error(), keyring.ErrInvalid.Error()+": "))
	}
	if withHistory {
		if err := doc.loadHistory(); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// loadHistory parses the raw history into the keyring.
func (d *document) loadHistory() error {
	if d.kr.History != nil || d.history == nil {
		return nil
	}
	r := strictjson.NewReader(d.history)
	events := []keyring.Event{}
	err := r.Array(func() error {
		var de diskEvent
		err := r.Object(func(name string) error {
			var err error
			switch name {
			case "at":
				de.At, err = r.Str()
			case "action":
				de.Action, err = r.Str()
			case "kid":
				de.KID, err = r.Str()
			case "from":
				de.From, err = r.Str()
			case "to":
				de.To, err = r.Str()
			case "by":
				de.By, err = r.Str()
			case "note":
				de.Note, err = r.Str()
			default:
				err = fmt.Errorf("unknown member %q", name)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("history event %d: %v", len(events), err)
		}
		ev, err := de.event()
		if err != nil {
			return fmt.Errorf("history event %d: %v", len(events), err)
		}
		events = append(events, ev)
		return nil
	})
	if err != nil {
		return formatErr("%v", err)
	}
	d.kr.History = events
	return nil
}

func readEncryption(raw []byte) (diskEncryption, error) {
	var enc diskEncryption
	r := strictjson.NewReader(raw)
	err := r.Object(func(name string) error {
		var err error
		switch name {
		case "scheme":
			enc.Scheme, err = r.Str()
		case "data_key":
			enc.DataKey, err = r.Str()
		default:
			err = fmt.Errorf("unknown member %q", name)
		}
		return err
	})
	return enc, err
}

func readKey(r *strictjson.Reader) (diskKey, error) {
	var d diskKey
	err := r.Object(func(name string) error {
		var err error
		switch name {
		case "kid":
			d.KID, err = r.Str()
		case "alg":
			d.Alg, err = r.Str()
		case "state":
			d.State, err = r.Str()
		case "legacy":
			d.Legacy, err = r.Bool()
		case "origin":
			d.Origin, err = r.Str()
		case "created_at":
			d.Created, err = r.Str()
		case "updated_at":
			d.Updated, err = r.Str()
		case "rotated_out_at":
			d.RotatedOut, err = r.Str()
		case "published_at":
			d.Published, err = r.Str()
		case "rotated_out_max_token_lifetime":
			d.RotatedOutLifetime, err = r.Str()
		case "thumbprint":
			d.Thumbprint, err = r.Str()
		case "secret_check":
			d.SecretCheck, err = r.Str()
		case "public":
			d.Public, err = r.Raw()
		case "private":
			d.Private, err = r.Raw()
		default:
			err = fmt.Errorf("unknown member %q", name)
		}
		return err
	})
	return d, err
}

func parseTime(field, s string, optional bool) (time.Time, error) {
	if s == "" && optional {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time", field, s)
	}
	return t, nil
}

func (d *diskKey) entry(v *vault) (*keyring.Entry, error) {
	e := &keyring.Entry{
		KID: d.KID, Alg: jwk.Algorithm(d.Alg), State: keyring.State(d.State),
		Legacy: d.Legacy, Origin: keyring.Origin(d.Origin),
	}
	var err error
	if e.Created, err = parseTime("created_at", d.Created, false); err != nil {
		return nil, err
	}
	if e.Updated, err = parseTime("updated_at", d.Updated, false); err != nil {
		return nil, err
	}
	if e.RotatedOut, err = parseTime("rotated_out_at", d.RotatedOut, true); err != nil {
		return nil, err
	}
	if e.Published, err = parseTime("published_at", d.Published, true); err != nil {
		return nil, err
	}
	if d.RotatedOutLifetime != "" {
		lt, err := time.ParseDuration(d.RotatedOutLifetime)
		if err != nil || lt <= 0 {
			return nil, fmt.Errorf("rotated_out_max_token_lifetime %q is not a positive duration", d.RotatedOutLifetime)
		}
		e.RotatedOutLifetime = lt
	}
	if e.Alg.Kty() == "" {
		return nil, fmt.Errorf("unsupported algorithm %q", d.Alg)
	}
	if d.Thumbprint != "" {
		if e.State != keyring.Deleted {
			return nil, errors.New("only a deleted key keeps a thumbprint")
		}
		if b, err := jwk.DecodeBase64URL(d.Thumbprint); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("thumbprint %q is not a base64url SHA-256 thumbprint", d.Thumbprint)
		}
		e.Thumbprint = d.Thumbprint
	}
	if d.SecretCheck != "" {
		if e.State != keyring.Deleted || !e.Symmetric() {
			return nil, errors.New("only a deleted shared secret keeps a secret check")
		}
		if d.Thumbprint != "" {
			return nil, errors.New("a thumbprint and a secret check: a tombstone keeps one")
		}
		if err := keyring.ParseSecretCheck(d.SecretCheck); err != nil {
			return nil, err
		}
		e.SecretCheck = d.SecretCheck
	}
	if e.State == keyring.Deleted {
		if d.Public != nil || d.Private != nil {
			return nil, errors.New("deleted, but key material is still there")
		}
		return e, nil
	}
	switch {
	case len(d.Private) == 0:
		return nil, errors.New("no private key")
	case e.Alg.Symmetric() && d.Public != nil:
		return nil, errors.New("a shared secret has no public key")
	case !e.Alg.Symmetric() && (len(d.Public) == 0 || d.Public[0] != '{'):
		return nil, errors.New("no public key object")
	}
	switch sealed := d.Private[0] == '"'; {
	case sealed && v == nil:
		return nil, errors.New("private key is encrypted but the keyring has no encryption record")
	case !sealed && v != nil:
		return nil, errors.New("private key is in the clear in an encrypted keyring")
	case !sealed && d.Private[0] != '{':
		return nil, errors.New("private key is neither a JWK object nor an encrypted string")
	}
	e.Material = &diskMaterial{kid: d.KID, alg: e.Alg, public: d.Public, private: d.Private, vault: v}
	return e, nil
}

func (d diskEvent) event() (keyring.Event, error) {
	at, err := parseTime("at", d.At, false)
	if err != nil {
		return keyring.Event{}, err
	}
	ev := keyring.Event{At: at, Action: keyring.Action(d.Action), KID: d.KID, From: keyring.State(d.From), To: keyring.State(d.To), By: d.By, Note: d.Note}
	if ev.Action == "" {
		return ev, errors.New("no action")
	}
	for _, s := range []keyring.State{ev.From, ev.To} {
		if s != "" && !s.Valid() {
			return ev, fmt.Errorf("unknown state %q", s)
		}
	}
	return ev, nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// marshal writes the keyring document. Keys loaded from the file keep their
// stored bytes (no passphrase needed to rewrite an encrypted keyring); new
// keys are encoded, and sealed when v is set.
func marshal(kr *keyring.Keyring, v *vault) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("{\n")
	fmt.Fprintf(&buf, "  \"version\": %d,\n", Version)
	fmt.Fprintf(&buf, "  \"max_token_lifetime\": %q,\n", keyring.ShortDuration(kr.Lifetime()))
	if kr.JWKSCacheWindow > 0 {
		fmt.Fprintf(&buf, "  \"jwks_cache_window\": %q,\n", keyring.ShortDuration(kr.JWKSCacheWindow))
	}
	if v != nil {
		enc, _ := json.Marshal(diskEncryption{Scheme: SchemePBES2DataKey, DataKey: v.wrapped})
		fmt.Fprintf(&buf, "  \"encryption\": %s,\n", enc)
	}
	buf.WriteString("  \"keys\": [")
	for i, e := range kr.Keys {
		dk, err := diskKeyOf(e, v)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", e.KID, err)
		}
		line, err := json.Marshal(dk)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", e.KID, err)
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n    ")
		buf.Write(line)
	}
	if len(kr.Keys) > 0 {
		buf.WriteString("\n  ")
	}
	buf.WriteString("],\n  \"history\": [")
	for i, ev := range kr.History {
		line, err := json.Marshal(diskEvent{
			At: formatTime(ev.At), Action: string(ev.Action), KID: ev.KID,
			From: string(ev.From), To: string(ev.To), By: ev.By, Note: ev.Note,
		})
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n    ")
		buf.Write(line)
	}
	if len(kr.History) > 0 {
		buf.WriteString("\n  ")
	}
	buf.WriteString("]\n}\n")
	return buf.Bytes(), nil
}

func diskKeyOf(e *keyring.Entry, v *vault) (diskKey, error) {
	dk := diskKey{
		KID: e.KID, Alg: string(e.Alg), State: string(e.State), Legacy: e.Legacy, Origin: string(e.Origin),
		Created: formatTime(e.Created), Updated: formatTime(e.Updated), RotatedOut: formatTime(e.RotatedOut),
	}
	if !e.Published.IsZero() && !e.Published.Equal(e.Created) {
		dk.Published = formatTime(e.Published)
	}
	if e.RotatedOutLifetime > 0 {
		dk.RotatedOutLifetime = keyring.ShortDuration(e.RotatedOutLifetime)
	}
	if e.State == keyring.Deleted {
		dk.Thumbprint, dk.SecretCheck = e.Thumbprint, e.SecretCheck
	}
	if e.Material == nil {
		return dk, nil
	}
	// Material read from this file in the same encryption mode is written
	// back as it was.
	if dm, ok := e.Material.(*diskMaterial); ok && dm.vault == v && dm.kid == e.KID {
		dk.Public, dk.Private = dm.public, dm.private
		return dk, nil
	}
	priv, err := e.Material.Private()
	if err != nil {
		return dk, err
	}
	if priv.KID != e.KID || priv.Alg != e.Alg {
		return dk, fmt.Errorf("material is for kid %q (%s)", priv.KID, priv.Alg)
	}
	if !e.Alg.Symmetric() {
		pub, err := e.Material.Public()
		if err != nil {
			return dk, err
		}
		if dk.Public, err = (&jwk.Key{KID: e.KID, Alg: e.Alg, Use: "sig", Material: pub.Material}).MarshalJSON(); err != nil {
			return dk, err
		}
	}
	plain, err := (&jwk.Key{KID: e.KID, Alg: e.Alg, Use: "sig", Material: priv.Material}).MarshalJSON()
	if err != nil {
		return dk, err
	}
	if v == nil {
		dk.Private = plain
		return dk, nil
	}
	sealed, err := v.seal(e.KID, plain)
	if err != nil {
		return dk, err
	}
	dk.Private, _ = json.Marshal(sealed)
	return dk, nil
}
