package cow

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gonbd/gonbd/server"
)

// DefaultBlockSize is the overlay's block size unless Options.BlockSize says otherwise.
const DefaultBlockSize = 64 << 10

// minBlockSize and maxBlockSize bound Options.BlockSize: below a page the overlay's
// bookkeeping costs more than it saves, and a block is read and written whole by
// partial writes, so huge ones turn small writes into huge copies.
const (
	minBlockSize = 4096
	maxBlockSize = 1 << 30
)

// Options configure the filter. The zero value is nbdkit's defaults.
type Options struct {
	// BlockSize is the unit in which the overlay records changes: a power of 2 of at
	// least 4096. 0 means DefaultBlockSize (64 KiB).
	BlockSize int64
	// OnCache copies the blocks that a cache (prefetch) request covers from the next
	// layer into the overlay (cow-on-cache=true).
	OnCache bool
	// OnRead says whether reads copy the blocks they touch into the overlay
	// (cow-on-read=). The zero value never does.
	OnRead Trigger
	// TempDir is where the overlay file is made; "" means $TMPDIR, or /var/tmp when
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

func (t Trigger) String() string {
	if t.Path != "" {
		return t.Path
	}
	return fmt.Sprint(t.On)
}

// withDefaults returns o with its zero fields filled and checks it.
func (o Options) withDefaults() (Options, error) {
	if o.BlockSize == 0 {
		o.BlockSize = DefaultBlockSize
	}
	if o.BlockSize < minBlockSize || o.BlockSize > maxBlockSize || o.BlockSize&(o.BlockSize-1) != 0 {
		return o, fmt.Errorf("cow-block-size=%d: the block size must be a power of 2 from 4096 to 1G", o.BlockSize)
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
	if o.BlockSize, err = p.Size("cow-block-size", DefaultBlockSize); err != nil {
		return o, err
	}
	if o.OnCache, err = p.Bool("cow-on-cache", false); err != nil {
		return o, err
	}
	if v, ok := p.Lookup("cow-on-read"); ok {
		if o.OnRead, err = ParseTrigger(v); err != nil {
			return o, fmt.Errorf("cow-on-read=%s: %w", v, err)
		}
	}
	return o.withDefaults()
}
