// Command keyctl manages JWT signing keys: generate, rotate, mint, publish
// and verify. See README.md.
package main

import (
	"os"

	"github.com/keyctl/keyctl/cmd"
)

func main() {
	os.Exit(cmd.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
