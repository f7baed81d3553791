package qcow2dec

import (
	"context"
	"encoding/binary"
	"fmt"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// cacheBytes bounds the memory each of an image's two caches (L2 tables, decompressed
// clusters) may hold; each holds at least two entries whatever the cluster size.
const cacheBytes = 4 << 20

// Bits of L1 and L2 entries.
const (
	offsetMask     = 0x00ff_ffff_ffff_fe00 // bits 9-55: a cluster's offset in the file
	l1Reserved     = 0x7f00_0000_0000_01ff
	l2Compressed   = 1 << 62
	l2Copied       = 1 << 63
	l2Zero         = 1 << 0
	l2Reserved     = 0x3f00_0000_0000_01fe // bits 1-8 and 56-61 of a standard entry
	subclusters    = 32
	sectorSize     = 512
	subclusterBits = 5 // log2(subclusters)
)

// clusterKind says where a (sub)cluster's data is.
type clusterKind uint8

const (
	unallocated clusterKind = iota // reads as zeroes: there is no backing file
	zeroes                         // reads as zeroes, by the zero flag
	data                           // a run of bytes of the file at host
	compressed                     // csize bytes at host, to decompress
)

// A mapping is what an L2 entry says about one cluster.
type mapping struct {
	kind  clusterKind
	host  int64 // offset in the file of the data, or of the compressed data
	csize int64 // compressed: bytes to read at host
	// bitmap is an extended L2 entry's subcluster bitmap (allocated: bits 0-31, reads
	// as zeroes: bits 32-63); 0 for standard entries.
	bitmap uint64
}

// image reads a qcow2 image through one connection's handle of the next layer.
type image struct {
	f        *filter
	next     server.LayerHandle
	h        *header
	fileSize int64
	l1       []uint64
	l2Cache  *lru // L2 tables, by offset
	clusters *lru // decompressed clusters, by the offset of their compressed data
}

// openImage reads and checks the header and the L1 table.
func openImage(ctx context.Context, f *filter, next server.LayerHandle) (*image, error) {
	fileSize, err := next.Size(ctx)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, min(fileSize, 4096))
	if err := next.ReadAt(ctx, buf, 0, 0); err != nil {
		return nil, fmt.Errorf("reading the qcow2 header: %w", err)
	}
	h, err := parseHeader(buf, fileSize)
	if err != nil {
		return nil, server.Errorf(syscall.EINVAL, "%v", err)
	}
	if h.backingOffset != 0 {
		return nil, server.Errorf(syscall.ENOTSUP, "the image has a backing file%s, which this filter does not read: "+
			"make a standalone image with qemu-img convert", backingName(ctx, next, h, fileSize))
	}
	img := &image{f: f, next: next, h: h, fileSize: fileSize}
	raw := make([]byte, h.l1Size*8)
	if err := next.ReadAt(ctx, raw, h.l1Offset, 0); err != nil {
		return nil, fmt.Errorf("reading the L1 table: %w", err)
	}
	img.l1 = make([]uint64, h.l1Size)
	for i := range img.l1 {
		img.l1[i] = binary.BigEndian.Uint64(raw[i*8:])
	}
	perCache := max(2, cacheBytes>>h.clusterBits)
	img.l2Cache, img.clusters = newLRU(int(perCache)), newLRU(int(perCache))
	return img, nil
}

// backingName returns " (NAME)" for the backing file's name, or "" when it cannot be
// read.
func backingName(ctx context.Context, next server.LayerHandle, h *header, fileSize int64) string {
	if h.backingSize == 0 || h.backingSize > 1023 || h.backingOffset > fileSize-int64(h.backingSize) {
		return ""
	}
	name := make([]byte, h.backingSize)
	if next.ReadAt(ctx, name, h.backingOffset, 0) != nil {
		return ""
	}
	return fmt.Sprintf(" (%q)", name)
}

// corrupt returns the error for metadata that cannot be right.
func corrupt(format string, args ...any) error {
	return server.Errorf(syscall.EIO, "corrupt qcow2 image: "+format, args...)
}

// lookup returns the mapping of the cluster holding virtual offset off.
func (img *image) lookup(ctx context.Context, off int64) (mapping, error) {
	h := img.h
	cluster := off >> h.clusterBits
	l1Index, l2Index := cluster/h.l2Entries(), cluster%h.l2Entries()
	l1Entry := img.l1[l1Index]
	if l1Entry&l1Reserved != 0 {
		return mapping{}, corrupt("L1 entry %d (%#x) has reserved bits set", l1Index, l1Entry)
	}
	l2Offset := int64(l1Entry & offsetMask)
	if l2Offset == 0 {
		return mapping{kind: unallocated}, nil
	}
	table, err := img.l2Table(ctx, l2Offset, l1Index)
	if err != nil {
		return mapping{}, err
	}
	at := l2Index * h.l2EntrySize()
	entry := binary.BigEndian.Uint64(table[at:])
	var bitmap uint64
	if h.extendedL2 {
		bitmap = binary.BigEndian.Uint64(table[at+8:])
	}
	m, err := img.decodeL2(entry, bitmap)
	if err != nil {
		return mapping{}, fmt.Errorf("%w (L2 entry %d of the table at %d, for virtual offset %d)", err, l2Index, l2Offset, off)
	}
	return m, nil
}

// l2Table returns the L2 table at offset, from the cache or the file.
func (img *image) l2Table(ctx context.Context, offset, l1Index int64) ([]byte, error) {
	if table, ok := img.l2Cache.get(offset); ok {
		return table, nil
	}
	cs := img.h.clusterSize()
	if offset%cs != 0 || offset > img.fileSize-cs {
		return nil, corrupt("L1 entry %d points to an L2 table at %d, unaligned or outside the %d-byte file", l1Index, offset, img.fileSize)
	}
	table := make([]byte, cs)
	if err := img.next.ReadAt(ctx, table, offset, 0); err != nil {
		return nil, fmt.Errorf("reading the L2 table at %d: %w", offset, err)
	}
	img.l2Cache.add(offset, table)
	return table, nil
}

// decodeL2 decodes an L2 entry (and, with extended L2 entries, its bitmap).
func (img *image) decodeL2(entry, bitmap uint64) (mapping, error) {
	h := img.h
	if entry&l2Compressed != 0 {
		if entry&l2Copied != 0 {
			return mapping{}, corrupt("compressed cluster with the copied flag set")
		}
		if bitmap != 0 {
			return mapping{}, corrupt("compressed cluster with a subcluster bitmap")
		}
		// The descriptor: the data's offset in the low bits, then the number of
		// 512-byte sectors it touches, less one.
		offsetBits := 62 - (h.clusterBits - 8)
		host := int64(entry & (1<<offsetBits - 1))
		sectors := int64(entry>>offsetBits&(1<<(h.clusterBits-8)-1)) + 1
		csize := sectors*sectorSize - host%sectorSize
		if host >= img.fileSize {
			return mapping{}, corrupt("compressed cluster at %d, past the end of the %d-byte file", host, img.fileSize)
		}
		// The last sector may run past the end of the file, which reads as zeroes.
		return mapping{kind: compressed, host: host, csize: min(csize, img.fileSize-host)}, nil
	}
	host := int64(entry & offsetMask)
	reserved := uint64(l2Reserved)
	if h.extendedL2 || h.version == 2 {
		reserved |= l2Zero // the zero flag is a subcluster bit, or unknown to version 2
	}
	if entry&reserved != 0 {
		return mapping{}, corrupt("L2 entry %#x has reserved bits set", entry)
	}
	// A data cluster may end past the end of the file when only its first subclusters
	// are allocated: readData checks each read.
	if host != 0 && (host%h.clusterSize() != 0 || host >= img.fileSize) {
		return mapping{}, corrupt("data cluster at %d is unaligned or outside the %d-byte file", host, img.fileSize)
	}
	switch {
	case h.extendedL2:
		if allocated := uint32(bitmap); allocated&uint32(bitmap>>32) != 0 {
			return mapping{}, corrupt("subclusters both allocated and zero (bitmap %#x)", bitmap)
		} else if host == 0 && allocated != 0 {
			return mapping{}, corrupt("allocated subclusters in an unallocated cluster (bitmap %#x)", bitmap)
		}
		return mapping{kind: data, host: host, bitmap: bitmap}, nil
	case entry&l2Zero != 0:
		return mapping{kind: zeroes, host: host}, nil
	case host == 0:
		return mapping{kind: unallocated}, nil
	}
	return mapping{kind: data, host: host}, nil
}

// subcluster returns what the subcluster i of an extended data mapping holds.
func (m mapping) subcluster(i uint) clusterKind {
	switch {
	case m.bitmap&(1<<i) != 0:
		return data
	case m.bitmap&(1<<(32+i)) != 0:
		return zeroes
	}
	return unallocated
}
