package gzip

import "fmt"

// Defaults of Options.
const (
	// DefaultSpanSize is the default distance between restart points: a read
	// decompresses at most about this much (plus one DEFLATE block) before it has its
	// data, and the index keeps 32 KiB per span (8 MiB for a 1 GiB image).
	DefaultSpanSize = 4 << 20
	// DefaultCacheSize is the default size of the cache of decompressed spans, shared
	// by every connection.
	DefaultCacheSize = 64 << 20
)

// Bounds of Options.SpanSize: below 64 KiB the 32 KiB windows would cost more memory
// than they save time; above 1 GiB a read of a few bytes could cost seconds.
const (
	minSpanSize = 64 << 10
	maxSpanSize = 1 << 30
)

// Options configure the filter. The zero value is the defaults.
type Options struct {
	// SpanSize is the uncompressed distance between restart points of the index
	// (gzip-span=). 0 means DefaultSpanSize; otherwise from 64 KiB to 1 GiB.
	SpanSize int64
	// CacheSize bounds the bytes of decompressed spans kept for later reads
	// (gzip-cache=). 0 means DefaultCacheSize. The spans that requests are using
	// stay in memory until they are done, whatever the bound.
	CacheSize int64
}

// withDefaults returns o with its zero fields filled, or what is wrong with it.
func (o Options) withDefaults() (Options, error) {
	if o.SpanSize == 0 {
		o.SpanSize = DefaultSpanSize
	}
	if o.SpanSize < minSpanSize || o.SpanSize > maxSpanSize {
		return o, fmt.Errorf("gzip-span=%d: the span size must be from 64K to 1G", o.SpanSize)
	}
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.CacheSize < 0 {
		return o, fmt.Errorf("gzip-cache=%d: the cache size cannot be negative", o.CacheSize)
	}
	return o, nil
}
