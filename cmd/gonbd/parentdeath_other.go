//go:build !linux

package main

import "errors"

// exitWithParentSupported says whether --exit-with-parent works here.
const exitWithParentSupported = false

func exitWithParent(parentPID int) error {
	return errors.New("--exit-with-parent is supported on Linux only")
}
