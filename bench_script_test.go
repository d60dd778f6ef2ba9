package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// Script commands for the bulk minting scripts (testdata/script/bulk_*.txtar):
// properties of a file of tokens, one per line.
func init() {
	scriptCmds["jwtlines"] = cmdJWTLines
	scriptCmds["jwtverifylines"] = cmdJWTVerifyLines
	scriptCmds["jwtclaimline"] = cmdJWTClaimLine
	scriptCmds["jwtdistinct"] = cmdJWTDistinct
	scriptCmds["jwtsame"] = cmdJWTSame
	scriptCmds["jwtsequence"] = cmdJWTSequence
	scriptCmds["ndjsonseq"] = cmdNDJSONSeq
}

// tokenLines reads FILE as tokens, one per line, with a final newline.
func tokenLines(ts *testscript.TestScript, file string) []string {
	data := ts.ReadFile(file)
	if data == "" {
		return nil
	}
	if !strings.HasSuffix(data, "\n") {
		ts.Fatalf("%s does not end with a newline", file)
	}
	return strings.Split(strings.TrimSuffix(data, "\n"), "\n")
}

// lineClaims decodes the claims of one token line, numbers kept exact.
func lineClaims(ts *testscript.TestScript, tok string, line int) map[string]any {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		ts.Fatalf("line %d: not a compact JWS: %q", line, tok)
	}
	raw, err := jwk.DecodeBase64URL(parts[1])
	if err != nil {
		ts.Fatalf("line %d: %v", line, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		ts.Fatalf("line %d: claims: %v", line, err)
	}
	return m
}

func claimJSON(m map[string]any, name string) string {
	v, ok := m[name]
	if !ok {
		return "<absent>"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// jwtlines FILE N: FILE holds exactly N lines, each a compact JWS.
func cmdJWTLines(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jwtlines FILE N")
	}
	lines := tokenLines(ts, args[0])
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	ok := len(lines) == want
	for i, l := range lines {
		if strings.Count(l, ".") != 2 || strings.ContainsAny(l, " \t\r") {
			ts.Fatalf("line %d is not a compact JWS: %q", i+1, l)
		}
	}
	if ok == neg {
		ts.Fatalf("%d lines, want %s%d", len(lines), map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// jwtverifylines FILE KEYFILE: go-jose verifies every token of FILE with
// the public half of the key in KEYFILE (its own algorithm only).
func cmdJWTVerifyLines(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: jwtverifylines FILE KEYFILE")
	}
	keys, err := jwk.ParseAny([]byte(ts.ReadFile(args[1])))
	ts.Check(err)
	if len(keys) != 1 {
		ts.Fatalf("%s: want one key", args[1])
	}
	k := keys[0]
	lines := tokenLines(ts, args[0])
	for i, tok := range lines {
		obj, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(k.Alg)})
		if err != nil {
			ts.Fatalf("line %d: go-jose cannot parse: %v", i+1, err)
		}
		if _, err := obj.Verify(k.PublicMaterial()); err != nil {
			ts.Fatalf("line %d: go-jose: %v", i+1, err)
		}
	}
	ts.Logf("%d tokens verified", len(lines))
}

// jwtclaimline FILE LINE NAME VALUE: claim NAME of the token on line LINE
// (1-based) is VALUE, as jwtclaim compares it.
func cmdJWTClaimLine(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: jwtclaimline FILE LINE NAME VALUE")
	}
	lines := tokenLines(ts, args[0])
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	if n < 1 || n > len(lines) {
		ts.Fatalf("line %d of %d", n, len(lines))
	}
	compareMember(ts, neg, lineClaims(ts, lines[n-1], n), args[2], args[3])
}

// jwtdistinct FILE NAME: every token has claim NAME, all values differ.
func cmdJWTDistinct(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: jwtdistinct FILE NAME")
	}
	seen := map[string]int{}
	for i, tok := range tokenLines(ts, args[0]) {
		v := claimJSON(lineClaims(ts, tok, i+1), args[1])
		if v == "<absent>" {
			ts.Fatalf("line %d has no %s", i+1, args[1])
		}
		if first, dup := seen[v]; dup {
			ts.Fatalf("lines %d and %d share %s %s", first, i+1, args[1], v)
		}
		seen[v] = i + 1
	}
}

// jwtsame FILE NAME: every token has the same value (or absence) of NAME.
func cmdJWTSame(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: jwtsame FILE NAME")
	}
	lines := tokenLines(ts, args[0])
	if len(lines) == 0 {
		ts.Fatalf("%s is empty", args[0])
	}
	first := claimJSON(lineClaims(ts, lines[0], 1), args[1])
	for i, tok := range lines[1:] {
		if v := claimJSON(lineClaims(ts, tok, i+2), args[1]); v != first {
			ts.Fatalf("line %d: %s = %s, line 1 has %s", i+2, args[1], v, first)
		}
	}
}

// jwtsequence FILE NAME: the token on line k has claim NAME equal to k, so
// the output kept the input's order.
func cmdJWTSequence(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jwtsequence FILE NAME")
	}
	var bad error
	for i, tok := range tokenLines(ts, args[0]) {
		if v := claimJSON(lineClaims(ts, tok, i+1), args[1]); v != strconv.Itoa(i+1) {
			bad = fmt.Errorf("line %d: %s = %s, want %d", i+1, args[1], v, i+1)
			break
		}
	}
	switch {
	case bad != nil && !neg:
		ts.Fatalf("%v", bad)
	case bad == nil && neg:
		ts.Fatalf("every line is in sequence")
	}
}

// ndjsonseq FILE N: write N lines of claims, line k being
// {"n":k,"sub":"user-k"}.
func cmdNDJSONSeq(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: ndjsonseq FILE N")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	var b bytes.Buffer
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "{\"n\":%d,\"sub\":\"user-%d\"}\n", i, i)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b.Bytes(), 0o644))
}
