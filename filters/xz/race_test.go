//go:build race

package xz

// e2eImageSize is the size of the end-to-end tests' disk image: smaller under the race
// detector, which slows LZMA decoding twentyfold.
const e2eImageSize = 16 << 20
