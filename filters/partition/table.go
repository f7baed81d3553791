package partition

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

const sectorSize = 512

// A span is a partition's place on the disk, in bytes.
type span struct{ offset, size int64 }

// disk reads the partition table of the disk behind the filter.
type disk struct {
	ctx  context.Context
	h    server.LayerHandle
	size int64
	log  *slog.Logger
}

// errNoTable is the error for a disk with neither table.
var errNoTable = errors.New("the disk has no MBR or GPT partition table (no boot signature, no GPT header)")

// readAt reads len(p) bytes at off, refusing what lies outside the disk: a table that
// points there is broken.
func (d disk) readAt(p []byte, off int64, what string) error {
	if off < 0 || off > d.size-int64(len(p)) {
		return fmt.Errorf("%s at byte %d is outside the disk of %d bytes", what, off, d.size)
	}
	if err := d.h.ReadAt(d.ctx, p, off, 0); err != nil {
		return fmt.Errorf("reading the %s: %w", what, err)
	}
	return nil
}

// findPartition reads the partition table and returns where partition n is. A GPT
// header in sector 1 makes the disk GPT, whatever sector 0 holds; otherwise a boot
// signature in sector 0 makes it MBR.
func (d disk) findPartition(n int) (span, error) {
	if d.size < 2*sectorSize {
		return span{}, server.Errorf(syscall.EINVAL, "the disk of %d bytes is too small to hold a partition table", d.size)
	}
	var first [2 * sectorSize]byte
	if err := d.readAt(first[:], 0, "partition table"); err != nil {
		return span{}, err
	}
	var p span
	var err error
	switch {
	case string(first[sectorSize:sectorSize+8]) == gptSignature:
		p, err = d.findGPTPartition(first[sectorSize:], n)
	case first[0x1fe] == 0x55 && first[0x1ff] == 0xaa:
		p, err = d.findMBRPartition(first[:sectorSize], n)
	default:
		err = errNoTable
	}
	if err != nil {
		return span{}, err
	}
	if p.offset < 0 || p.size <= 0 || p.offset > d.size-p.size {
		return span{}, fmt.Errorf("partition %d, %d bytes from byte %d, is outside the disk of %d bytes", n, p.size, p.offset, d.size)
	}
	return p, nil
}

// lbaSpan converts a start and a length in sectors to bytes, refusing what does not fit
// in an int64 (a broken table).
func lbaSpan(start, sectors uint64) (span, bool) {
	if start > math.MaxInt64/sectorSize || sectors > math.MaxInt64/sectorSize {
		return span{}, false
	}
	p := span{int64(start) * sectorSize, int64(sectors) * sectorSize}
	return p, p.offset <= math.MaxInt64-p.size
}
