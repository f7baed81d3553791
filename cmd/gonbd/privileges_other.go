//go:build !unix

package main

import "errors"

func (id identity) become() error {
	if id.uid >= 0 || id.gid >= 0 {
		return errors.New("-u and -g are supported on Unix systems only")
	}
	return nil
}

func lockMemory() error {
	return errors.New("--swap is supported on Unix systems only")
}
