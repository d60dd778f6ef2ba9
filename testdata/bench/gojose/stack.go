//go:build stackimports

package main

// Built with -tags stackimports, the go-jose program also links the
// libraries keyctl's stack is set to (cobra, viper, lipgloss) and net/http,
// which keyctl needs for serve and JWKS URLs, without calling any of them:
// their package initialisers run and their init-time code is paged in.
// That is the floor for any one-binary tool on this stack, and
// testdata/bench/peers.sh times it beside keyctl.
import (
	_ "net/http"

	_ "github.com/charmbracelet/lipgloss"
	_ "github.com/spf13/cobra"
	_ "github.com/spf13/viper"
)
