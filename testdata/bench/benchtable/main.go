// Command benchtable reads `go test -bench` output on stdin, copies it to
// stdout, and then prints each benchmark that has a raw baseline beside it
// as a ratio, with issue 6's target where there is one. `make bench` pipes
// the benchmarks through it.
//
// A benchmark has a baseline when it reports the metrics raw-ns/op and
// x-raw (pkg/jwt's mint benchmarks measure both in one run), or when its
// name pairs with a Raw benchmark in the same run (BenchmarkVerifyES256
// with BenchmarkRawECDSAVerify, and so on).
//
// It exits 1 when the benchmark run failed (a FAIL line, a panic, or "go
// test" itself failing, which the Makefile reports as a FAIL line).
//
// It lives under testdata so that `go build ./...` of keyctl skips it.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// targets are issue 6's figures: the most a benchmark may cost, as a
// multiple of its raw operation.
var targets = map[string]float64{
	"Mint/ES256": 1.2, "Mint/EdDSA": 1.5, "Mint/HS256": 1.5, "Mint/RS256": 1.05,
	"MintSeries/ES256": 1.2, "MintSeries/EdDSA": 1.5, "MintSeries/HS256": 1.5, "MintSeries/RS256": 1.05,
	"VerifyES256": 1.2, "MintCount": 1.2,
	// Issue 11: a keyring in PostgreSQL against a keyring file.
	"StoreLifecycle": 2, "StoreMint": 1.5, "StoreMint1000": 1.5, "StoreServe": 1,
	"StoreLifecyclePgbouncer": 2, "StoreMintPgbouncer": 1.5,
}

// rawPairs names the raw benchmark of a benchmark that does not measure
// its own.
var rawPairs = map[string]string{
	"VerifyES256": "RawECDSAVerify",
	"VerifyRS256": "RawRSAVerify",
	"VerifyHS256": "RawHMACVerify",
	"VerifyEdDSA": "RawEd25519Verify",
}

type result struct {
	pkg, name       string
	ns, rawNs, x    float64
	allocs, bytesOp string
}

// benchLine is "BenchmarkName-8  123  456 ns/op  [value unit]..."
var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

func main() {
	var results []*result
	byName := map[string]*result{}
	pkg := ""
	failed := false
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Println(line)
		if strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "panic:") {
			failed = true
		}
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(p, "github.com/keyctl/keyctl/")
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		r := &result{pkg: pkg, name: m[1], allocs: "-", bytesOp: "-"}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, unit := f[i], f[i+1]
			n, _ := strconv.ParseFloat(v, 64)
			switch unit {
			case "ns/op":
				r.ns = n
			case "raw-ns/op":
				r.rawNs = n
			case "x-raw":
				r.x = n
			case "allocs/op":
				r.allocs = v
			case "B/op":
				r.bytesOp = v
			}
		}
		results = append(results, r)
		byName[pkg+"."+r.name] = r
	}
	fmt.Println()
	fmt.Printf("%-48s %12s %12s %8s %8s %10s %8s\n", "benchmark (vs raw operation)", "ns/op", "raw ns/op", "x raw", "target", "allocs/op", "B/op")
	missed := 0
	for _, r := range results {
		if r.x == 0 {
			raw, ok := byName[r.pkg+"."+rawPairs[r.name]]
			if !ok || raw.ns == 0 {
				continue
			}
			r.rawNs, r.x = raw.ns, r.ns/raw.ns
		}
		target, verdict := "", ""
		if t, ok := targets[r.name]; ok {
			target = fmt.Sprintf("%.2f", t)
			if r.x > t {
				verdict = "  over target"
				missed++
			}
		}
		fmt.Printf("%-48s %12.0f %12.0f %8.3f %8s %10s %8s%s\n", r.pkg+" "+r.name, r.ns, r.rawNs, r.x, target, r.allocs, r.bytesOp, verdict)
	}
	if missed > 0 {
		fmt.Printf("\n%d figure(s) over target (benchmarks on a shared machine are noisy: rerun before believing one)\n", missed)
	}
	if failed {
		fmt.Println("\nbenchmarks failed")
		os.Exit(1)
	}
}
