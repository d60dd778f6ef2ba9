package keysfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyctl/keyctl/pkg/jwk"
)

func gen(t *testing.T, kid string) *jwk.Key {
	t.Helper()
	k, err := jwk.Generate(jwk.ES256, jwk.GenerateOptions{KID: kid})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ops(k *jwk.Key) string { return strings.Join(k.KeyOps, ",") }

func TestAppendKeepsOneSigner(t *testing.T) {
	var keys []*jwk.Key
	keys, signs, err := Append(keys, gen(t, "a"), false)
	if err != nil || !signs || ops(keys[0]) != "sign,verify" {
		t.Fatalf("first key must sign: %v %v %s", err, signs, ops(keys[0]))
	}
	keys, signs, _ = Append(keys, gen(t, "b"), false)
	if signs || ops(keys[0]) != "sign,verify" || ops(keys[1]) != "verify" {
		t.Fatalf("standby append: %v %s %s", signs, ops(keys[0]), ops(keys[1]))
	}
	keys, signs, _ = Append(keys, gen(t, "c"), true)
	// The new signer goes first: the Supabase CLI signs with the first key.
	if !signs || keys[0].KID != "c" || ops(keys[0]) != "sign,verify" || ops(keys[1]) != "verify" || ops(keys[2]) != "verify" {
		t.Fatalf("in-use append: %s:%s %s:%s %s:%s", keys[0].KID, ops(keys[0]), keys[1].KID, ops(keys[1]), keys[2].KID, ops(keys[2]))
	}
	if _, _, err := Append(keys, gen(t, "a"), false); err == nil {
		t.Fatal("duplicate kid accepted")
	}
	n := 0
	for _, k := range keys {
		if k.HasOp(jwk.OpSign) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d signing keys", n)
	}
}

func TestAppendRefusesManySigners(t *testing.T) {
	// As the Supabase CLI's --append writes a file: two signing keys.
	two := []*jwk.Key{gen(t, "a").WithOps(jwk.OpSign, jwk.OpVerify), gen(t, "b").WithOps(jwk.OpSign, jwk.OpVerify)}
	_, _, err := Append(two, gen(t, "c"), false)
	var many *ManySignersError
	if !errors.As(err, &many) || many.N != 2 {
		t.Fatalf("standby append to two signers: %v", err)
	}
	// --in-use repairs it: exactly one signer, the new key, first.
	keys, signs, err := Append(two, gen(t, "c"), true)
	if err != nil || !signs || Signers(keys) != 1 || keys[0].KID != "c" {
		t.Fatalf("in-use append to two signers: %v %v %d", err, signs, Signers(keys))
	}
}

func TestSelect(t *testing.T) {
	a, b := gen(t, "a").WithOps(jwk.OpVerify), gen(t, "b").WithOps(jwk.OpSign, jwk.OpVerify)
	if k, _ := Select([]*jwk.Key{a, b}, ""); k.KID != "b" {
		t.Fatalf("picked %s, want the signer b", k.KID)
	}
	if k, _ := Select([]*jwk.Key{a, a}, ""); k.KID != "a" {
		t.Fatalf("no signer: picked %s, want the first", k.KID)
	}
	if k, _ := Select([]*jwk.Key{a, b}, "a"); k.KID != "a" {
		t.Fatalf("--kid a picked %s", k.KID)
	}
	if _, err := Select([]*jwk.Key{a}, "zzz"); err == nil {
		t.Fatal("unknown kid accepted")
	}
	if _, err := Select(nil, ""); err == nil {
		t.Fatal("empty file accepted")
	}
}

func TestReadWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signing_keys.json")
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing file: %v", err)
	}
	keys := []*jwk.Key{gen(t, "a")}
	if err := Write(path, keys); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "[\n  {\n    \"kty\": \"EC\",\n    \"kid\": \"a\",") || !strings.HasSuffix(string(data), "}\n]\n") {
		t.Fatalf("layout:\n%s", data)
	}
	back, err := Read(path)
	if err != nil || len(back) != 1 || !back[0].Equal(keys[0]) {
		t.Fatalf("read back: %v", err)
	}
	for _, content := range []string{"", "  \n", "[]"} {
		os.WriteFile(path, []byte(content), 0o600)
		if keys, err := Read(path); err != nil || len(keys) != 0 {
			t.Errorf("%q: %v %v", content, keys, err)
		}
	}
	pub, _ := gen(t, "p").Public()
	pj, _ := pub.MarshalJSON()
	os.WriteFile(path, []byte("["+string(pj)+"]"), 0o600)
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), "public key") {
		t.Fatalf("public key in keys file: %v", err)
	}
	empty, _ := Marshal(nil)
	if string(empty) != "[]\n" {
		t.Fatalf("empty marshal %q", empty)
	}
}

// FuzzParse: a keys file never panics the reader.
func FuzzParse(f *testing.F) {
	f.Add([]byte("[]"))
	f.Add([]byte(""))
	f.Add([]byte(`[{"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := Parse(data)
		if err != nil {
			return
		}
		for _, k := range keys {
			if !k.IsPrivate() {
				t.Fatal("public key accepted")
			}
		}
	})
}
