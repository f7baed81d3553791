package qcow2dec

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
)

// qcow2 header layout (docs/interop/qcow2.txt in QEMU's sources): big-endian fields at
// fixed offsets; version 3 adds the feature bitmaps and the header length.
const (
	magic = "QFI\xfb"

	v2HeaderSize = 72
	v3HeaderSize = 104 // the smallest version 3 header; 112 with the compression type

	// minClusterBits and maxClusterBits bound the cluster size (512 bytes to 2 MiB).
	minClusterBits = 9
	maxClusterBits = 21
	// maxL1Size bounds the L1 table's bytes, as QEMU does.
	maxL1Bytes = 32 << 20
)

// Incompatible feature bits (version 3).
const (
	incompatDirty        = 1 << 0
	incompatCorrupt      = 1 << 1
	incompatExternalData = 1 << 2
	incompatCompression  = 1 << 3
	incompatExtendedL2   = 1 << 4
	incompatKnown        = incompatDirty | incompatCorrupt | incompatExternalData | incompatCompression | incompatExtendedL2
)

// Compression types (the header's compression_type byte).
const (
	compressionZlib = 0
	compressionZstd = 1
)

// A header is what this decoder needs of a qcow2 header, checked.
type header struct {
	version     uint32
	clusterBits uint
	size        int64 // the virtual disk's size
	l1Size      int64 // entries
	l1Offset    int64
	compression byte // compressionZlib or compressionZstd
	extendedL2  bool
	dirty       bool // the image was not closed cleanly (only refcounts may be stale)
	corrupt     bool // QEMU found the metadata inconsistent
	// backingOffset and backingSize locate the backing file's name, when there is one.
	backingOffset int64
	backingSize   uint32
}

func (h *header) clusterSize() int64 { return 1 << h.clusterBits }

// l2EntrySize is the size of an L2 entry: 16 bytes with subclusters, else 8.
func (h *header) l2EntrySize() int64 {
	if h.extendedL2 {
		return 16
	}
	return 8
}

// l2Entries is how many entries an L2 table (one cluster) holds.
func (h *header) l2Entries() int64 { return h.clusterSize() / h.l2EntrySize() }

// parseHeader decodes and checks the header at the start of b, which holds at least
// v3HeaderSize+8 bytes or the whole file. fileSize is the image file's size.
func parseHeader(b []byte, fileSize int64) (*header, error) {
	if len(b) < v2HeaderSize || string(b[:4]) != magic {
		return nil, fmt.Errorf("not a qcow2 image (no QFI\\xfb magic at the start)")
	}
	be := binary.BigEndian
	h := &header{version: be.Uint32(b[4:])}
	if h.version != 2 && h.version != 3 {
		return nil, fmt.Errorf("qcow2 version %d is not supported (only 2 and 3 are)", h.version)
	}
	h.backingOffset = int64(be.Uint64(b[8:]))
	h.backingSize = be.Uint32(b[16:])
	clusterBits := be.Uint32(b[20:])
	if clusterBits < minClusterBits || clusterBits > maxClusterBits {
		return nil, fmt.Errorf("cluster_bits %d is out of range (%d to %d)", clusterBits, minClusterBits, maxClusterBits)
	}
	h.clusterBits = uint(clusterBits)
	size := be.Uint64(b[24:])
	if size > 1<<62 {
		return nil, fmt.Errorf("virtual size %d is too large", size)
	}
	h.size = int64(size)
	if crypt := be.Uint32(b[32:]); crypt != 0 {
		method := map[uint32]string{1: "AES", 2: "LUKS"}[crypt]
		return nil, fmt.Errorf("the image is encrypted (%s, crypt_method %d), which this filter does not decrypt", method, crypt)
	}
	h.l1Size = int64(be.Uint32(b[36:]))
	h.l1Offset = int64(be.Uint64(b[40:]))

	if h.version == 3 {
		if len(b) < v3HeaderSize {
			return nil, fmt.Errorf("truncated version 3 header")
		}
		if err := h.parseV3(b); err != nil {
			return nil, err
		}
	}

	// Check the L1 table's place and size, so that every lookup may trust them.
	if h.l1Size*8 > maxL1Bytes {
		return nil, fmt.Errorf("L1 table of %d entries is too large", h.l1Size)
	}
	coverage := h.l1Size * h.l2Entries() // clusters the L1 table can map
	if needed := (h.size + h.clusterSize() - 1) >> h.clusterBits; coverage < needed {
		return nil, fmt.Errorf("L1 table of %d entries is too small for a virtual size of %d bytes", h.l1Size, h.size)
	}
	if h.l1Size > 0 {
		if h.l1Offset%h.clusterSize() != 0 || h.l1Offset <= 0 || h.l1Offset > fileSize-h.l1Size*8 {
			return nil, fmt.Errorf("L1 table offset %d is not aligned to a cluster or lies outside the %d-byte file", h.l1Offset, fileSize)
		}
	}
	return h, nil
}

// parseV3 decodes the fields of a version 3 header.
func (h *header) parseV3(b []byte) error {
	be := binary.BigEndian
	incompat := be.Uint64(b[72:])
	if unknown := incompat &^ incompatKnown; unknown != 0 {
		return fmt.Errorf("the image uses incompatible features this filter does not know (bits %s)", bitList(unknown))
	}
	if incompat&incompatExternalData != 0 {
		return fmt.Errorf("the image keeps its data in an external data file, which this filter cannot read")
	}
	h.dirty = incompat&incompatDirty != 0
	h.corrupt = incompat&incompatCorrupt != 0
	h.extendedL2 = incompat&incompatExtendedL2 != 0
	if h.extendedL2 && h.clusterBits < 14 {
		return fmt.Errorf("extended L2 entries need clusters of at least 16 KiB, not %d bytes", h.clusterSize())
	}
	headerLength := be.Uint32(b[100:])
	if headerLength < v3HeaderSize {
		return fmt.Errorf("version 3 header length %d is less than %d", headerLength, v3HeaderSize)
	}
	if incompat&incompatCompression != 0 {
		if headerLength <= v3HeaderSize || len(b) <= v3HeaderSize {
			return fmt.Errorf("the compression type feature is set but the header has no compression type field")
		}
		h.compression = b[v3HeaderSize]
	}
	switch h.compression {
	case compressionZlib, compressionZstd:
	default:
		return fmt.Errorf("unknown compression type %d (0 is zlib and 1 zstd)", h.compression)
	}
	return nil
}

// bitList names the set bits of v: "5, 7".
func bitList(v uint64) string {
	var names []string
	for v != 0 {
		i := bits.TrailingZeros64(v)
		names = append(names, fmt.Sprint(i))
		v &^= 1 << i
	}
	return strings.Join(names, ", ")
}
