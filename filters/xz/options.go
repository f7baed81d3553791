package xz

import "fmt"

// Defaults of Options, nbdkit's.
const (
	DefaultMaxBlock = 512 << 20
	DefaultMaxDepth = 8
)

// Options configure the filter. The zero value is nbdkit's defaults.
type Options struct {
	// MaxBlock is the largest uncompressed block the filter accepts (xz-max-block=):
	// files with a larger block are refused, since each block is decompressed whole.
	// 0 means DefaultMaxBlock (512 MiB).
	MaxBlock int64
	// MaxDepth is how many decompressed blocks are kept (xz-max-depth=), shared by
	// every connection. 0 means DefaultMaxDepth (8).
	MaxDepth int
}

// withDefaults returns o with its zero fields filled, or what is wrong with it.
func (o Options) withDefaults() (Options, error) {
	if o.MaxBlock == 0 {
		o.MaxBlock = DefaultMaxBlock
	}
	if o.MaxBlock < 0 {
		return o, fmt.Errorf("xz-max-block=%d: the size cannot be negative", o.MaxBlock)
	}
	if o.MaxDepth == 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxDepth < 1 {
		return o, fmt.Errorf("xz-max-depth=%d: it must be at least 1", o.MaxDepth)
	}
	return o, nil
}
