package cache

import "context"

// reclaim drops least recently used blocks once the cache has grown past the high
// threshold, until it is under the low one, writing dirty ones back first. One request
// reclaims at a time; the others go on, since it works for them too.
func (h *handle) reclaim(ctx context.Context) {
	f := h.filter
	s := h.store
	if !s.limit || !f.reclaimMu.TryLock() {
		return
	}
	defer f.reclaimMu.Unlock()
	high := f.opts.MaxSize * int64(f.opts.HighThreshold) / 100
	low := f.opts.MaxSize * int64(f.opts.LowThreshold) / 100
	cached, _ := s.counts()
	if !f.reclaiming {
		if cached*s.blockSize <= high {
			return
		}
		f.reclaiming = true
	}
	bufp := h.getBlock()
	defer h.putBlock(bufp)
	for cached*s.blockSize > low {
		b, ok := s.leastRecentlyUsed()
		if !ok {
			break
		}
		if err := h.evict(ctx, b, *bufp); err != nil {
			// The block stays; the next request that grows the cache tries again.
			f.log.Warn("cache: could not write a block back to reclaim it", "block", b, "err", err)
			return
		}
		cached, _ = s.counts()
	}
	f.reclaiming = false
}

// evict writes block b back if it is dirty and drops it from the cache.
func (h *handle) evict(ctx context.Context, b int64, buf []byte) error {
	s := h.store
	s.lock(b)
	defer s.unlock(b)
	if s.state(b) == absent {
		return nil // dropped meanwhile
	}
	if err := h.writeBackLocked(ctx, b, buf); err != nil {
		return err
	}
	s.drop(b)
	return nil
}
