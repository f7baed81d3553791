package cache

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gonbd/gonbd/server"
)

// Mode says when writes reach the next layer.
type Mode int

const (
	// Writeback keeps writes in the cache until a flush (or a FUA write) writes them to
	// the next layer. This is the default.
	Writeback Mode = iota
	// Writethrough writes to the next layer at once, and keeps a copy in the cache.
	Writethrough
	// Unsafe is Writeback that ignores flush and FUA: writes reach the next layer only
	// when the cache is reclaimed or the server shuts down.
	Unsafe
)

// ParseMode parses the value of cache=.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "writeback":
		return Writeback, nil
	case "writethrough":
		return Writethrough, nil
	case "unsafe":
		return Unsafe, nil
	}
	return Writeback, fmt.Errorf("cache=%s: unknown mode (expected writeback, writethrough or unsafe)", s)
}

func (m Mode) String() string {
	switch m {
	case Writeback:
		return "writeback"
	case Writethrough:
		return "writethrough"
	case Unsafe:
		return "unsafe"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// DefaultMinBlockSize is the cache's smallest block size.
const DefaultMinBlockSize = 64 << 10

// Options configure the filter. The zero value is nbdkit's defaults.
type Options struct {
	// Mode says when writes reach the next layer.
	Mode Mode
	// MinBlockSize is the smallest block size of the cache, a power of 2 of at least
	// 4096; the block size is the larger of it and the file system's block size. 0
	// means DefaultMinBlockSize (64 KiB).
	MinBlockSize int64
	// MaxSize limits the cache's size in bytes; 0 means no limit (the cache can grow
	// to the size of the disk). Reclaiming needs hole punching (Linux).
	MaxSize int64
	// HighThreshold and LowThreshold are percentages of MaxSize: once the cache grows
	// past the high one, least recently used blocks are reclaimed until it is under
	// the low one. 0 means the defaults, 95 and 80.
	HighThreshold, LowThreshold int
	// OnRead says whether the blocks read from the next layer are kept in the cache.
	OnRead Trigger
	// TempDir is where the cache file is made; "" means $TMPDIR, or /var/tmp when
	// that is unset, as nbdkit.
	TempDir string
}

// A Trigger is a setting that is either fixed or follows the existence of a file:
// nbdkit's "true", "false" or "/PATH".
type Trigger struct {
	// On is the setting when Path is empty.
	On bool
	// Path, when set, is an absolute path: the setting is on while it exists.
	Path string
}

// ParseTrigger parses nbdkit's syntax: a boolean, or an absolute path.
func ParseTrigger(s string) (Trigger, error) {
	if filepath.IsAbs(s) {
		return Trigger{Path: s}, nil
	}
	on, err := server.ParseBool(s)
	if err != nil {
		return Trigger{}, fmt.Errorf("expected a boolean or an absolute path: %w", err)
	}
	return Trigger{On: on}, nil
}

// Active reports whether the setting is on now. With a Path it costs a stat(2), which
// is what lets the user turn it on and off while the server runs.
func (t Trigger) Active() bool {
	if t.Path == "" {
		return t.On
	}
	_, err := os.Stat(t.Path)
	return err == nil
}

// withDefaults returns o with its zero fields filled and checks it.
func (o Options) withDefaults() (Options, error) {
	if o.Mode < Writeback || o.Mode > Unsafe {
		return o, fmt.Errorf("unknown cache mode %v", o.Mode)
	}
	if o.MinBlockSize == 0 {
		o.MinBlockSize = DefaultMinBlockSize
	}
	if o.MinBlockSize < 4096 || o.MinBlockSize > 1<<30 || o.MinBlockSize&(o.MinBlockSize-1) != 0 {
		return o, fmt.Errorf("cache-min-block-size=%d: the block size must be a power of 2 from 4096 to 1G", o.MinBlockSize)
	}
	if o.HighThreshold == 0 {
		o.HighThreshold = 95
	}
	if o.LowThreshold == 0 {
		o.LowThreshold = 80
	}
	if o.LowThreshold <= 0 || o.HighThreshold <= o.LowThreshold {
		return o, fmt.Errorf("cache-low-threshold=%d, cache-high-threshold=%d: the thresholds must be 0 < low < high",
			o.LowThreshold, o.HighThreshold)
	}
	if o.MaxSize < 0 {
		return o, fmt.Errorf("cache-max-size=%d: the size cannot be negative", o.MaxSize)
	}
	if o.MaxSize > 0 && !canPunchHoles {
		return o, fmt.Errorf("cache-max-size: reclaiming needs hole punching, which this platform lacks")
	}
	if o.TempDir == "" {
		o.TempDir = os.Getenv("TMPDIR")
	}
	if o.TempDir == "" {
		o.TempDir = "/var/tmp"
	}
	return o, nil
}

// optionsFromParams reads the filter's parameters, with nbdkit's syntax.
func optionsFromParams(p *server.Params) (Options, error) {
	var o Options
	var err error
	if o.Mode, err = ParseMode(p.String("cache", "writeback")); err != nil {
		return o, err
	}
	if o.MinBlockSize, err = p.Size("cache-min-block-size", DefaultMinBlockSize); err != nil {
		return o, err
	}
	if o.MaxSize, err = p.Size("cache-max-size", 0); err != nil {
		return o, err
	}
	for _, t := range []struct {
		key string
		v   *int
	}{{"cache-high-threshold", &o.HighThreshold}, {"cache-low-threshold", &o.LowThreshold}} {
		n, err := p.Uint32(t.key, 0)
		if err != nil {
			return o, err
		}
		if _, given := p.Lookup(t.key); given && n == 0 {
			return o, fmt.Errorf("%s=0: the threshold must be a percentage above 0", t.key)
		}
		if n > 1000 {
			return o, fmt.Errorf("%s=%d: the threshold is a percentage of cache-max-size", t.key, n)
		}
		*t.v = int(n)
	}
	if v, ok := p.Lookup("cache-on-read"); ok {
		if o.OnRead, err = ParseTrigger(v); err != nil {
			return o, fmt.Errorf("cache-on-read=%s: %w", v, err)
		}
	}
	return o.withDefaults()
}
