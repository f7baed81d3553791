package xz

import (
	"context"
	"sync"
)

// blockCache keeps the most recently used decompressed blocks, up to a number of
// them, shared by every connection. A block wanted by several requests at once is
// decompressed once: the first request decompresses it and the others wait. Evicted
// blocks are dropped, never reused, so a request still copying from one is safe.
type blockCache struct {
	depth int

	mu      sync.Mutex
	entries map[int]*cacheEntry
	lru     cacheEntry // sentinel of the list of loaded entries, most recent first
	loaded  int
}

type cacheEntry struct {
	key        int
	ready      chan struct{} // closed once data or err is set
	data       []byte
	err        error
	prev, next *cacheEntry
}

func newBlockCache(depth int) *blockCache {
	c := &blockCache{depth: depth, entries: make(map[int]*cacheEntry)}
	c.lru.prev, c.lru.next = &c.lru, &c.lru
	return c
}

// get returns block key, calling load if nobody has it or is loading it. Failed
// loads are not cached: their error goes to the requests that waited, and the next
// request tries again.
func (c *blockCache) get(ctx context.Context, key int, load func() ([]byte, error)) ([]byte, error) {
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
		c.loaded++
		for c.loaded > c.depth {
			old := c.lru.prev
			c.unlink(old)
			delete(c.entries, old.key)
			c.loaded--
		}
	}
	c.mu.Unlock()
	close(e.ready)
	return data, err
}

func (c *blockCache) pushFront(e *cacheEntry) {
	e.prev, e.next = &c.lru, c.lru.next
	e.prev.next, e.next.prev = e, e
}

func (c *blockCache) unlink(e *cacheEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

// len returns how many decompressed blocks the cache holds.
func (c *blockCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loaded
}
