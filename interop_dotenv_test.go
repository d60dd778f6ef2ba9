package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInteropDotenvReadsStackEnv: the env files keyctl writes for a
// Supabase stack (supabase init-self-hosted, keys export --format env)
// read back by the npm dotenv package, pinned in testdata/interop, value
// for value as keyctl prints each service's variable. (compose's own parser
// and bash read them in internal/stack's tests.)
func TestInteropDotenvReadsStackEnv(t *testing.T) {
	t.Parallel()
	node := needNode(t, "dotenv")
	k := newKeyctlEnv(t)
	env := k.path(".env")
	if err := os.WriteFile(env, []byte("# kept\nPOSTGRES_PASSWORD=\"x # y\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k.run("supabase", "init-self-hosted", "--legacy", "--env", env, "--keyring", k.path("keyring.json"), "--compose-override", "")
	exported := k.path("exported.env")
	k.run("keys", "export", "--keyring", k.path("keyring.json"), "--format", "env", "--to", exported)

	script := `import { parse } from "dotenv"; import { readFileSync } from "node:fs";
process.stdout.write(JSON.stringify(parse(readFileSync(process.argv[1]))));`
	read := func(file string) map[string]string {
		cmd := exec.Command(node, "--input-type=module", "-e", script, file)
		cmd.Dir = interopDir
		out, err := cmd.Output()
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("dotenv on %s: %v\n%s", file, err, ee.Stderr)
		} else if err != nil {
			t.Fatalf("dotenv on %s: %v", file, err)
		}
		var m map[string]string
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, file := range []string{env, exported} {
		got := read(file)
		for svc, name := range map[string]string{"auth": "GOTRUE_JWT_KEYS", "postgrest": "PGRST_JWT_SECRET", "realtime": "API_JWT_JWKS", "storage": "JWT_JWKS", "functions": "SUPABASE_JWKS"} {
			want := k.run("keys", "export", "--keyring", k.path("keyring.json"), "--service", svc)
			if got[name] != want {
				t.Fatalf("%s: dotenv reads %s as %.80q..., keyctl exports %.80q...", filepath.Base(file), name, got[name], want)
			}
		}
		if file == env {
			if got["POSTGRES_PASSWORD"] != "x # y" {
				t.Fatalf("a kept line reads %q", got["POSTGRES_PASSWORD"])
			}
			for _, name := range []string{"JWT_SECRET", "ANON_KEY", "SERVICE_ROLE_KEY"} {
				if got[name] == "" || strings.ContainsAny(got[name], "'\"") {
					t.Fatalf("%s reads %q", name, got[name])
				}
			}
		}
	}
}
