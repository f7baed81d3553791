package cow

import (
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// blockState is what the overlay knows about one block.
type blockState uint8

const (
	// unallocated: the block was never changed; its data is the next layer's.
	unallocated blockState = iota
	// allocated: the block's data is in the overlay file.
	allocated
	// zeroed: the block reads as zeroes (it was trimmed or zeroed whole); the file
	// holds nothing for it.
	zeroed
)

// lockStripes is how many mutexes serialise the changes to blocks: a block's changes
// take stripe number block%lockStripes, so that requests on different blocks seldom
// wait for each other and the locks take constant memory whatever the disk's size.
const lockStripes = 256

// An overlay is the temporary file holding the changed blocks and the state of every
// block. One overlay serves every connection, as in nbdkit.
type overlay struct {
	file      *os.File
	blockSize int64

	mu     sync.RWMutex // guards size and states
	size   int64        // of the export; -1 until the first connection says
	states []blockState // one per block

	// stripes serialise the read-modify-write of a block with the other changes of it,
	// so that concurrent partial writes of one block both land.
	stripes [lockStripes]sync.Mutex
}

// newOverlay makes the overlay's file in dir and removes its name at once, so that the
// file goes away with the process however it ends.
func newOverlay(dir string, blockSize int64) (*overlay, error) {
	f, err := os.CreateTemp(dir, "gonbd-cow-*")
	if err != nil {
		return nil, fmt.Errorf("cow: creating the overlay file (set TMPDIR to a writable directory): %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("cow: removing the overlay file's name: %w", err)
	}
	return &overlay{file: f, blockSize: blockSize, size: -1}, nil
}

// setSize sizes the overlay for an export of size bytes on the first call, and checks
// that later connections see the same size: the overlay maps blocks of one disk.
func (o *overlay) setSize(size int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.size == -1 {
		o.size = size
		o.states = make([]blockState, (size+o.blockSize-1)/o.blockSize)
		return nil
	}
	if size != o.size {
		return server.Errorf(syscall.EIO,
			"cow: the plugin's size changed from %d to %d bytes; the overlay cannot follow a resized disk", o.size, size)
	}
	return nil
}

// state returns the state of block b.
func (o *overlay) state(b int64) blockState {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.states[b]
}

// setState records the state of block b.
func (o *overlay) setState(b int64, s blockState) {
	o.mu.Lock()
	o.states[b] = s
	o.mu.Unlock()
}

// run returns the state of block first and the number of blocks from first on, up to
// last included, that share it.
func (o *overlay) run(first, last int64) (blockState, int64) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	s := o.states[first]
	n := int64(1)
	for first+n <= last && o.states[first+n] == s {
		n++
	}
	return s, n
}

// lock locks block b against other changes; unlock unlocks it.
func (o *overlay) lock(b int64)   { o.stripes[b%lockStripes].Lock() }
func (o *overlay) unlock(b int64) { o.stripes[b%lockStripes].Unlock() }

// blockLen returns the length of block b within the export: blockSize, except for a
// short last block.
func (o *overlay) blockLen(b int64) int64 {
	return min(o.blockSize, o.size-b*o.blockSize)
}

// readFile fills p from the file at off.
func (o *overlay) readFile(p []byte, off int64) error {
	if _, err := o.file.ReadAt(p, off); err != nil {
		return fmt.Errorf("cow: reading the overlay: %w", err)
	}
	return nil
}

// writeBlock stores data as the contents of block b and marks it allocated; the
// block is locked. The state changes after the data is in the file, so that a reader
// that sees it allocated finds the data.
func (o *overlay) writeBlock(b int64, data []byte) error {
	if _, err := o.file.WriteAt(data, b*o.blockSize); err != nil {
		return fmt.Errorf("cow: writing the overlay: %w", err)
	}
	o.setState(b, allocated)
	return nil
}

// zeroBlock marks block b as reading zeroes and frees its storage; the block is
// locked.
func (o *overlay) zeroBlock(b int64) {
	o.setState(b, zeroed)
	punchHole(o.file, b*o.blockSize, o.blockSize)
}

func (o *overlay) close() error { return o.file.Close() }
