//go:build unix

package file

import "syscall"

// mkfifo makes a named pipe, which the plugin must refuse to serve.
func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }
