//go:build !race

package xz

// e2eImageSize is the size of the end-to-end tests' disk image.
const e2eImageSize = 64 << 20
