//go:build !linux && !freebsd

package split

// haveFadvise is true where posix_fadvise(2) exists. Here cache requests are served
// by reading.
const haveFadvise = false

func willNeed(fd int, off, length int64) error { return nil }
