package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRequireInteropReportsSkip: a skipped interop test appends what is
// missing and how to install it to the file KEYCTL_TEST_SKIP_REPORT names,
// which make test prints after go test (no -v needed to see skips).
func TestRequireInteropReportsSkip(t *testing.T) {
	report := filepath.Join(t.TempDir(), "skips")
	t.Setenv("KEYCTL_TEST_SKIP_REPORT", report)
	t.Setenv("CI", "")
	t.Run("present", func(t *testing.T) {
		requireInterop(t, true, "the frobnicator", "run: apt-get install -y frob")
	})
	if _, err := os.Stat(report); !os.IsNotExist(err) {
		t.Errorf("a client that is there wrote a skip report (%v)", err)
	}
	for range 2 {
		t.Run("missing", func(t *testing.T) {
			requireInterop(t, false, "the frobnicator", "run: apt-get install -y frob")
			t.Error("requireInterop did not skip")
		})
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("no skip report: %v", err)
	}
	want := "TestRequireInteropReportsSkip/missing: the frobnicator is missing: run: apt-get install -y frob\n" +
		"TestRequireInteropReportsSkip/missing#01: the frobnicator is missing: run: apt-get install -y frob\n"
	if string(data) != want {
		t.Errorf("skip report:\n%s\nwant:\n%s", data, want)
	}
}
