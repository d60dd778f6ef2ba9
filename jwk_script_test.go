package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyctl/keyctl/internal/supabasecompat"
	"github.com/keyctl/keyctl/pkg/jwk"
)

func init() {
	scriptCmds["jwkcheck"] = cmdJWKCheck
	scriptCmds["keysfilecheck"] = cmdKeysFileCheck
	scriptCmds["jwtverify"] = cmdJWTVerify
	scriptCmds["jwtclaim"] = cmdJWTClaim
	scriptCmds["jwtheader"] = cmdJWTHeader
	scriptCmds["jwtlifetime"] = cmdJWTLifetime
	scriptCmds["jwtsorted"] = cmdJWTSorted
	scriptCmds["supabaseauth"] = cmdSupabaseAuth
	// A kid with an escape character, which a script cannot spell.
	scriptSetups = append(scriptSetups, func(env *testscript.Env) error {
		env.Setenv("BADKID", "bad\x1b[2Jkid")
		return nil
	})
}

// supabaseOrder is the member order the Supabase CLI prints, per key type.
var supabaseOrder = map[string][]string{
	"EC":  {"kty", "kid", "use", "key_ops", "alg", "ext", "d", "crv", "x", "y"},
	"RSA": {"kty", "kid", "use", "key_ops", "alg", "ext", "n", "e", "d", "p", "q", "dp", "dq", "qi"},
	"oct": {"kty", "kid", "use", "key_ops", "alg", "ext", "k"},
	"OKP": {"kty", "kid", "use", "key_ops", "alg", "ext", "crv", "d", "x"},
}

// memberNames lists the top-level member names of a JSON object in order.
func memberNames(data []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var names []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		names = append(names, t.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// checkPrivateJWK checks one JWK line the way Supabase Auth's loader and
// go-jose would, plus keyctl's own promises.
func checkPrivateJWK(line []byte, wantAlg string, wantOps []string) error {
	k, err := jwk.Parse(line)
	if err != nil {
		return fmt.Errorf("keyctl cannot parse its own key: %v", err)
	}
	var jk jose.JSONWebKey
	if err := jk.UnmarshalJSON(line); err != nil {
		return fmt.Errorf("go-jose rejects the key: %v", err)
	}
	if _, secret := jk.Key.([]byte); !secret && (!jk.Valid() || jk.IsPublic()) {
		return fmt.Errorf("go-jose: not a valid private key")
	}
	if wantAlg != "" && string(k.Alg) != wantAlg {
		return fmt.Errorf("alg %s, want %s", k.Alg, wantAlg)
	}
	names, err := memberNames(line)
	if err != nil {
		return err
	}
	if want := supabaseOrder[k.Kty()]; !slices.Equal(names, want) {
		return fmt.Errorf("members %v, want %v", names, want)
	}
	var m map[string]any
	json.Unmarshal(line, &m)
	if m["use"] != "sig" || m["ext"] != true {
		return fmt.Errorf("use %v ext %v, want sig and true", m["use"], m["ext"])
	}
	ops := fmt.Sprint(m["key_ops"])
	if want := fmt.Sprint(toAny(wantOps)); ops != want {
		return fmt.Errorf("key_ops %s, want %s", ops, want)
	}
	kid, _ := m["kid"].(string)
	if kid == "" {
		return fmt.Errorf("no kid")
	}
	for _, member := range []string{"x", "y", "d"} {
		if k.Kty() == "EC" && len(m[member].(string)) != 43 {
			return fmt.Errorf("EC member %s is %d characters, want 43", member, len(m[member].(string)))
		}
	}
	return nil
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// jwkcheck FILE [ALG] [OPS]: every non-empty line of FILE is a private JWK
// with Supabase's member order, full-width members, use sig, ext true and
// key_ops OPS (default sign,verify).
func cmdJWKCheck(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: jwkcheck FILE [ALG] [OPS]")
	}
	data := []byte(ts.ReadFile(args[0]))
	alg := ""
	if len(args) > 1 {
		alg = args[1]
	}
	ops := []string{"sign", "verify"}
	if len(args) > 2 {
		ops = strings.Split(args[2], ",")
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	var failed error
	for i, line := range lines {
		if err := checkPrivateJWK(line, alg, ops); err != nil {
			failed = fmt.Errorf("line %d: %v", i+1, err)
			break
		}
	}
	if neg {
		if failed == nil {
			ts.Fatalf("every key passed")
		}
		return
	}
	if failed != nil {
		ts.Fatalf("%v", failed)
	}
	ts.Logf("%d keys checked", len(lines))
}

// keysfilecheck FILE N SIGNER: FILE is a Supabase keys file of N keys, in
// Supabase's exact layout (2-space indent, trailing newline, mode 0600),
// where only key number SIGNER (1-based) has "sign" in key_ops.
func cmdKeysFileCheck(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: keysfilecheck FILE N SIGNER")
	}
	path := ts.MkAbs(args[0])
	st, err := os.Stat(path)
	ts.Check(err)
	if st.Mode().Perm() != 0o600 {
		ts.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	var raws []json.RawMessage
	ts.Check(json.Unmarshal(data, &raws))
	n, _ := strconv.Atoi(args[1])
	signer, _ := strconv.Atoi(args[2])
	if len(raws) != n {
		ts.Fatalf("%d keys, want %d", len(raws), n)
	}
	var lines [][]byte
	for i, raw := range raws {
		var compact bytes.Buffer
		ts.Check(json.Compact(&compact, raw))
		ops := []string{"verify"}
		if i+1 == signer {
			ops = []string{"sign", "verify"}
		}
		if err := checkPrivateJWK(compact.Bytes(), "", ops); err != nil {
			ts.Fatalf("key %d: %v", i+1, err)
		}
		lines = append(lines, compact.Bytes())
	}
	var want bytes.Buffer
	if len(raws) == 0 {
		want.WriteString("[]")
	} else {
		var arr bytes.Buffer
		arr.WriteString("[" + string(bytes.Join(lines, []byte(","))) + "]")
		json.Indent(&want, arr.Bytes(), "", "  ")
	}
	want.WriteByte('\n')
	if !bytes.Equal(want.Bytes(), data) {
		ts.Fatalf("layout differs from Supabase's:\n%s\nwant:\n%s", data, want.Bytes())
	}
}

// jwtverify TOKENFILE KEYFILE: go-jose verifies the token with the key's
// public half (the only algorithm allowed is the key's own).
func cmdJWTVerify(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jwtverify TOKENFILE KEYFILE")
	}
	tok := strings.TrimSpace(ts.ReadFile(args[0]))
	keys, err := jwk.ParseAny([]byte(ts.ReadFile(args[1])))
	ts.Check(err)
	obj, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.HS256, jose.EdDSA})
	if err != nil {
		if neg {
			return
		}
		ts.Fatalf("go-jose cannot parse the token: %v", err)
	}
	hdr := obj.Signatures[0].Header
	var verifyErr error = fmt.Errorf("no key matches kid %q", hdr.KeyID)
	for _, k := range keys {
		if hdr.KeyID != "" && k.KID != hdr.KeyID {
			continue
		}
		if string(k.Alg) != hdr.Algorithm {
			verifyErr = fmt.Errorf("token alg %s, key alg %s", hdr.Algorithm, k.Alg)
			continue
		}
		_, verifyErr = obj.Verify(k.PublicMaterial())
		break
	}
	if neg {
		if verifyErr == nil {
			ts.Fatalf("token verified")
		}
		return
	}
	if verifyErr != nil {
		ts.Fatalf("go-jose: %v", verifyErr)
	}
}

func tokenPart(ts *testscript.TestScript, file string, i int) map[string]any {
	parts := strings.Split(strings.TrimSpace(ts.ReadFile(file)), ".")
	if len(parts) != 3 {
		ts.Fatalf("%s: not a compact JWS", file)
	}
	raw, err := jwk.DecodeBase64URL(parts[i])
	ts.Check(err)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	ts.Check(dec.Decode(&m))
	return m
}

func compareMember(ts *testscript.TestScript, neg bool, m map[string]any, name, want string) {
	got, ok := m[name]
	var gotS string
	if ok {
		b, _ := json.Marshal(got)
		gotS = string(b)
	} else {
		gotS = "<absent>"
	}
	match := gotS == want
	if re, isRe := strings.CutPrefix(want, "re:"); isRe {
		match = regexp.MustCompile("^(?:" + re + ")$").MatchString(gotS)
	}
	if !match {
		// allow bare strings in scripts: jwtclaim tok role authenticated
		if s, isStr := got.(string); isStr && s == want {
			match = true
		}
	}
	if match == neg {
		ts.Fatalf("%s = %s, want %s%s", name, gotS, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// jwtclaim TOKENFILE NAME VALUE: the claim's JSON (or string) value is VALUE;
// VALUE "<absent>" asserts the claim is missing, "re:EXPR" matches the
// claim's JSON against a regular expression.
func cmdJWTClaim(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: jwtclaim TOKENFILE NAME VALUE")
	}
	compareMember(ts, neg, tokenPart(ts, args[0], 1), args[1], args[2])
}

// jwtheader TOKENFILE NAME VALUE: likewise for the protected header.
func cmdJWTHeader(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: jwtheader TOKENFILE NAME VALUE")
	}
	compareMember(ts, neg, tokenPart(ts, args[0], 0), args[1], args[2])
}

// jwtlifetime TOKENFILE SECONDS: exp - iat is SECONDS.
func cmdJWTLifetime(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jwtlifetime TOKENFILE SECONDS")
	}
	c := tokenPart(ts, args[0], 1)
	exp, err1 := c["exp"].(json.Number).Int64()
	iat, err2 := c["iat"].(json.Number).Int64()
	if err1 != nil || err2 != nil {
		ts.Fatalf("exp or iat is not an integer")
	}
	want, _ := strconv.ParseInt(args[1], 10, 64)
	if (exp-iat == want) == neg {
		ts.Fatalf("exp - iat = %d, want %s%d", exp-iat, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// jwtsorted TOKENFILE: header and claims JSON have sorted keys at every
// depth and are compact, as encoding/json writes them.
func cmdJWTSorted(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: jwtsorted TOKENFILE")
	}
	parts := strings.Split(strings.TrimSpace(ts.ReadFile(args[0])), ".")
	for _, p := range parts[:2] {
		raw, err := jwk.DecodeBase64URL(p)
		ts.Check(err)
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		ts.Check(dec.Decode(&v))
		again, _ := json.Marshal(v)
		if !bytes.Equal(again, raw) {
			ts.Fatalf("not canonical:\n%s\nwant\n%s", raw, again)
		}
	}
}

// supabaseauth FILE: Supabase Auth's key loader (lestrrat-go/jwx v2, exactly
// one "sign" key) accepts FILE as GOTRUE_JWT_KEYS / signing_keys.json. A
// file holding a single JWK is wrapped in an array first.
func cmdSupabaseAuth(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: supabaseauth FILE")
	}
	data := bytes.TrimSpace([]byte(ts.ReadFile(args[0])))
	if bytes.HasPrefix(data, []byte("{")) {
		data = append(append([]byte("["), data...), ']')
	}
	err := supabasecompat.LoadAuthKeys(data)
	if neg {
		if err == nil {
			ts.Fatalf("Supabase Auth would accept %s", args[0])
		}
		return
	}
	if err != nil {
		ts.Fatalf("Supabase Auth would refuse %s: %v", args[0], err)
	}
}
