package strictjson

import "testing"

// benchClaims is a Supabase access token's claims, the object the
// verifier scans for every token.
var benchClaims = []byte(`{"aal":"aal1","app_metadata":{"provider":"email","providers":["email"]},"aud":"authenticated","email":"user@example.com","exp":1767225600,"iat":1767222000,"is_anonymous":false,"iss":"http://127.0.0.1:54321/auth/v1","phone":"","role":"authenticated","session_id":"3f1e2d4c-5b6a-4789-8abc-def012345678","sub":"9b2c6f4e-0a1d-4c8e-9f3b-2a7d5e6c1b0a","user_metadata":{"email_verified":true}}`)

func BenchmarkScanObjectClaims(b *testing.B) {
	var buf [16]Member
	b.SetBytes(int64(len(benchClaims)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ScanObject(benchClaims, buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
