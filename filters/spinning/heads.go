package spinning

import (
	"context"
	"sync"
	"time"
)

// A disk is the heads of one export, shared by its connections.
type disk struct {
	zone  int64 // bytes per head; the last zone may be shorter
	heads []head
}

// A head serves one request at a time, seek included.
type head struct {
	mu  sync.Mutex
	pos int64 // where the last request ended
}

// newDisk returns the heads of an export of size bytes, each resting at the start of
// its zone.
func newDisk(size int64, heads int) *disk {
	zone := max((size+int64(heads)-1)/int64(heads), 1)
	d := &disk{zone: zone, heads: make([]head, heads)}
	for i := range d.heads {
		d.heads[i].pos = int64(i) * zone
	}
	return d
}

// seekTime returns how long moving a head by distance bytes takes.
func (o *Options) seekTime(distance, zone int64) time.Duration {
	if distance == 0 {
		return 0
	}
	span := float64(o.MaxSeekTime - o.MinSeekTime)
	return o.MinSeekTime + time.Duration(span*float64(min(distance, zone))/float64(zone))
}

// access moves the head of the zone holding off to off, waiting for the seek, then
// runs op while it holds the head and leaves the head at off+length.
func (d *disk) access(ctx context.Context, o *Options, off, length int64, op func() error) error {
	i := min(off/d.zone, int64(len(d.heads))-1)
	h := &d.heads[i]
	h.mu.Lock()
	defer h.mu.Unlock()
	distance := off - h.pos
	if distance < 0 {
		distance = -distance
	}
	if wait := o.seekTime(distance, d.zone); wait > 0 {
		if err := o.Sleep(ctx, wait); err != nil {
			return err
		}
	}
	h.pos = off // a failed request moved the head all the same
	if err := op(); err != nil {
		return err
	}
	h.pos = off + length
	return nil
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
