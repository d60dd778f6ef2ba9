// Command keyctl manages JWT signing keys: generate, rotate, mint, publish
// and verify. See README.md.
package main

import (
	"os"

	"github.com/keyctl/keyctl/cmd"
	_ "github.com/keyctl/keyctl/internal/prestart" // first: grows the stack once (see the package)
)

func main() {
	os.Exit(cmd.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
