package qcow2dec

import (
	"container/list"
	"sync"
)

// lru is a cache of byte slices of one size, keyed by their offset in the image file,
// that keeps the most recently used ones. It is safe for concurrent use. The slices it
// returns must not be modified.
type lru struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *lruEntry, most recently used first
	items map[int64]*list.Element
}

type lruEntry struct {
	key  int64
	data []byte
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), items: make(map[int64]*list.Element)}
}

// get returns the slice cached under key, if any.
func (c *lru) get(key int64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry).data, true
}

// add caches data under key, dropping the least recently used entry when full.
func (c *lru) add(key int64, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry{key: key, data: data})
	if c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*lruEntry).key)
	}
}
