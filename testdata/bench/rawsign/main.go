// Command rawsign is the floor for `keyctl gen bearer-jwt --count N`: it
// computes N ES256 signatures (SHA-256 and crypto/ecdsa, nothing else) over
// a token-sized input, spread over every core, and prints nothing. Its
// whole-process time is N x raw sign / cores; testdata/bench/peers.sh times
// keyctl's bulk minting against it.
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
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: rawsign N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[1])
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
				if _, err := ecdsa.SignASN1(rand.Reader, key, sum[:]); err != nil {
					panic(err)
				}
			}
		})
	}
	wg.Wait()
}
