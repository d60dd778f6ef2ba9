// Command rawsign is the floor for `keyctl gen bearer-jwt --count N`: it
// computes N ES256 signatures (SHA-256 and crypto/ecdsa, nothing else) over
// a token-sized input, spread over every core, and prints nothing. Its
// whole-process time is N x raw sign / cores; testdata/bench/peers.sh times
// keyctl's bulk minting against it. With -verify it is the floor for
// `keyctl verify --each-line` instead: N ES256 verifications (SHA-256 and
// ecdsa.VerifyASN1) of one signature.
//
// It lives under testdata so that `go build ./...` of keyctl skips it.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
)

func main() {
	args := os.Args[1:]
	verify := len(args) == 2 && args[0] == "-verify"
	if verify {
		args = args[1:]
	}
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: rawsign [-verify] N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 {
		fmt.Fprintln(os.Stderr, "rawsign: N must be a count")
		os.Exit(2)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	// The signing input of a typical `gen bearer-jwt --count` token.
	input := make([]byte, 280)
	sum := sha256.Sum256(input)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		panic(err)
	}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		share := n / workers
		if w < n%workers {
			share++
		}
		wg.Go(func() {
			for range share {
				sum := sha256.Sum256(input)
				if verify {
					if !ecdsa.VerifyASN1(&key.PublicKey, sum[:], sig) {
						panic("rawsign: verification failed")
					}
				} else if _, err := ecdsa.SignASN1(rand.Reader, key, sum[:]); err != nil {
					panic(err)
				}
			}
		})
	}
	wg.Wait()
}
