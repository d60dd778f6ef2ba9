package main

import (
	"os"
	"os/exec"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["needtool"] = cmdNeedTool
}

// needtool NAME: a script line guarded by [!exec:NAME], before "skip": it
// fails under CI=true, where the tool must be installed, and does nothing
// elsewhere, so the skip that follows applies.
func cmdNeedTool(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: needtool NAME")
	}
	if _, err := exec.LookPath(args[0]); err != nil && os.Getenv("CI") == "true" {
		ts.Fatalf("%s is not installed; CI needs it", args[0])
	}
}
