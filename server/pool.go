package server

import (
	"math/bits"
	"sync"
)

// bufferPool hands out byte slices in power-of-two size classes from 4 KiB up, so that
// request payloads cost no allocation once the pool is warm. Pools hold *[]byte so that
// putting a slice back does not allocate.
type bufferPool struct {
	classes []sync.Pool
}

const minBufferShift = 12 // 4 KiB

func newBufferPool(maxSize uint32) *bufferPool {
	n := classOf(int(maxSize)) + 1
	p := &bufferPool{classes: make([]sync.Pool, n)}
	for i := range p.classes {
		size := 1 << (minBufferShift + i)
		p.classes[i].New = func() any {
			b := make([]byte, size)
			return &b
		}
	}
	return p
}

// classOf returns the size class that holds n bytes.
func classOf(n int) int {
	if n <= 1<<minBufferShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minBufferShift
}

// get returns a buffer of length n; put it back with put.
func (p *bufferPool) get(n int) *[]byte {
	b := p.classes[classOf(n)].Get().(*[]byte)
	*b = (*b)[:n]
	return b
}

func (p *bufferPool) put(b *[]byte) {
	c := classOf(cap(*b))
	*b = (*b)[:cap(*b)]
	p.classes[c].Put(b)
}
