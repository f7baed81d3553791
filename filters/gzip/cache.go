package gzip

import (
	"context"
	"sync"
)

// spanCache keeps recently decompressed spans, shared by every connection, and makes
// sure that a span wanted by several requests at once is decompressed once: the first
// request loads it, the others wait for that load. It evicts the least recently used
// spans beyond its byte limit; the spans in use by a request stay valid for it, since
// an evicted span is only dropped, never reused.
type spanCache struct {
	limit int64

	mu      sync.Mutex
	entries map[int]*cacheEntry
	bytes   int64      // held by the loaded entries
	lru     cacheEntry // sentinel of the list of loaded entries, most recent first
}

type cacheEntry struct {
	key        int
	ready      chan struct{} // closed once data or err is set
	data       []byte
	err        error
	prev, next *cacheEntry
}

func newSpanCache(limit int64) *spanCache {
	c := &spanCache{limit: limit, entries: make(map[int]*cacheEntry)}
	c.lru.prev, c.lru.next = &c.lru, &c.lru
	return c
}

// get returns span key, calling load if nobody has it or is loading it. A load that
// fails is not cached: the error goes to the requests that waited for it, and the next
// request tries again.
func (c *spanCache) get(ctx context.Context, key int, load func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	if e, ok := c.entries[key]; ok {
		if e.prev != nil {
			c.unlink(e)
			c.pushFront(e)
		}
		c.mu.Unlock()
		select {
		case <-e.ready:
			return e.data, e.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e := &cacheEntry{key: key, ready: make(chan struct{})}
	c.entries[key] = e
	c.mu.Unlock()

	data, err := load()

	c.mu.Lock()
	e.data, e.err = data, err
	if err != nil {
		delete(c.entries, key)
	} else {
		c.pushFront(e)
		c.bytes += int64(len(data))
		c.evict(e)
	}
	c.mu.Unlock()
	close(e.ready)
	return data, err
}

// evict drops least recently used entries until the cache fits its limit, keeping keep
// (the entry just loaded) even if it alone is larger.
func (c *spanCache) evict(keep *cacheEntry) {
	for c.bytes > c.limit {
		old := c.lru.prev
		if old == &c.lru || old == keep {
			return
		}
		c.unlink(old)
		delete(c.entries, old.key)
		c.bytes -= int64(len(old.data))
	}
}

func (c *spanCache) pushFront(e *cacheEntry) {
	e.prev, e.next = &c.lru, c.lru.next
	e.prev.next, e.next.prev = e, e
}

func (c *spanCache) unlink(e *cacheEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

// stats returns how many spans and bytes the cache holds.
func (c *spanCache) stats() (spans int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), c.bytes
}
