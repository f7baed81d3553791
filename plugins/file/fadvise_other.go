//go:build !linux && !freebsd

package file

// haveFadvise is true where posix_fadvise(2) exists. Here fadvise= is accepted and
// does nothing, as in nbdkit, and cache requests are served by reading.
const haveFadvise = false

func adviseAccess(fd int, a Advice) error { return nil }

func willNeed(fd int, off, length int64) error { return nil }
