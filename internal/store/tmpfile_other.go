//go:build !linux

package store

import (
	"errors"
	"os"
)

var errUnsupported = errors.New("not supported on this system")

func hiddenTemp(string, os.FileMode) (*os.File, bool) { return nil, false }

func linkHidden(*os.File, string) error { return errUnsupported }
