//go:build !unix

package exitwhen

import "errors"

var errUnsupported = errors.New("not supported on this system")

func checkDescriptor(fd int) error          { return errUnsupported }
func descriptorClosed(fd int) (bool, error) { return false, errUnsupported }
func processExited(pid int) (bool, error)   { return false, errUnsupported }
