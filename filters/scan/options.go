package scan

import (
	"fmt"

	"github.com/gonbd/gonbd/server"
)

// DefaultSize is the size of each prefetch request unless Options.Size says otherwise.
const DefaultSize = 2 << 20

// Options configure the filter. Use [DefaultOptions] for nbdkit's defaults: the zero
// value turns scan-ahead and scan-clock off.
type Options struct {
	// Ahead skips the scan forward past a client's read that goes beyond it
	// (scan-ahead, default true).
	Ahead bool
	// Clock resumes the scan where it stopped when a client connects after all had
	// gone; otherwise it starts again from the beginning (scan-clock, default true).
	Clock bool
	// Forever starts the scan over from the beginning once it reaches the end, for as
	// long as clients are connected (scan-forever, default false).
	Forever bool
	// Size is the size of each prefetch request, a power of 2; 0 means DefaultSize.
	Size int64
}

// DefaultOptions returns nbdkit's defaults.
func DefaultOptions() Options {
	return Options{Ahead: true, Clock: true, Size: DefaultSize}
}

// withDefaults returns o with its zero size filled and checks it.
func (o Options) withDefaults() (Options, error) {
	if o.Size == 0 {
		o.Size = DefaultSize
	}
	if o.Size < 512 || o.Size > 1<<30 || o.Size&(o.Size-1) != 0 {
		return o, fmt.Errorf("scan-size=%d: the size must be a power of 2 from 512 to 1G", o.Size)
	}
	return o, nil
}

// optionsFromParams reads the filter's parameters, with nbdkit's syntax.
func optionsFromParams(p *server.Params) (Options, error) {
	o := DefaultOptions()
	var err error
	if o.Ahead, err = p.Bool("scan-ahead", o.Ahead); err != nil {
		return o, err
	}
	if o.Clock, err = p.Bool("scan-clock", o.Clock); err != nil {
		return o, err
	}
	if o.Forever, err = p.Bool("scan-forever", o.Forever); err != nil {
		return o, err
	}
	if o.Size, err = p.Size("scan-size", o.Size); err != nil {
		return o, err
	}
	return o.withDefaults()
}
