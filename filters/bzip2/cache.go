package bzip2

import (
	"container/list"
	"sync"
)

// blockCache keeps the most recently used decompressed blocks, by block number. It
// is safe for concurrent use, and loads each block once however many requests want
// it at the same time. The slices it returns must not be modified.
type blockCache struct {
	mu      sync.Mutex
	depth   int
	order   *list.List // of *cached, most recently used first
	items   map[int]*list.Element
	loading map[int]*load
}

type cached struct {
	key  int
	data []byte
}

// A load is a block being decompressed; done is closed when data or err is set.
type load struct {
	done chan struct{}
	data []byte
	err  error
}

func newBlockCache(depth int) *blockCache {
	return &blockCache{depth: depth, order: list.New(), items: map[int]*list.Element{}, loading: map[int]*load{}}
}

// lookup returns key's data if it is cached. It is get's fast path, which costs the
// caller no closure.
func (c *blockCache) lookup(key int) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cached).data, true
}

// get returns block key, from the cache or from fetch. Errors are not cached: the
// next request tries again.
func (c *blockCache) get(key int, fetch func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		c.order.MoveToFront(el)
		c.mu.Unlock()
		return el.Value.(*cached).data, nil
	}
	if l, ok := c.loading[key]; ok {
		c.mu.Unlock()
		<-l.done
		return l.data, l.err
	}
	l := &load{done: make(chan struct{})}
	c.loading[key] = l
	c.mu.Unlock()

	l.data, l.err = fetch()

	c.mu.Lock()
	delete(c.loading, key)
	if l.err == nil {
		c.items[key] = c.order.PushFront(&cached{key: key, data: l.data})
		if c.order.Len() > c.depth {
			last := c.order.Back()
			c.order.Remove(last)
			delete(c.items, last.Value.(*cached).key)
		}
	}
	c.mu.Unlock()
	close(l.done)
	return l.data, l.err
}
