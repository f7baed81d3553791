package partition

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// GPT header fields used here (UEFI specification, 5.3.2), from the header in LBA 1.
const (
	gptSignature    = "EFI PART"
	gptMinEntrySize = 128
)

// findGPTPartition finds partition n, entry n of the partition array, of the GPT disk
// whose header (sector 1) is header. Like nbdkit, it trusts the primary header: a bad
// CRC is logged, not refused.
func (d disk) findGPTPartition(header []byte, n int) (span, error) {
	le := binary.LittleEndian
	headerSize := le.Uint32(header[12:])
	if headerSize >= 92 && headerSize <= sectorSize {
		h := make([]byte, headerSize)
		copy(h, header)
		le.PutUint32(h[16:], 0)
		if crc32.ChecksumIEEE(h) != le.Uint32(header[16:]) {
			d.log.Warn("the primary GPT header's CRC is wrong; using the header anyway")
		}
	}
	arrayLBA := le.Uint64(header[72:])
	entries := le.Uint32(header[80:])
	entrySize := le.Uint32(header[84:])
	if uint64(n) > uint64(entries) {
		return span{}, fmt.Errorf("GPT partition %d not found: the table has %d entries", n, entries)
	}
	if entrySize < gptMinEntrySize {
		return span{}, fmt.Errorf("broken GPT header: entries of %d bytes, fewer than %d", entrySize, gptMinEntrySize)
	}
	// Read entry n alone. Its offset is computed in uint64, where the product of two
	// 32-bit numbers fits, and refused past what an int64 holds: readAt refuses the
	// rest of what lies outside the disk.
	rel := uint64(n-1) * uint64(entrySize)
	if arrayLBA > math.MaxInt64/sectorSize || rel > math.MaxInt64-arrayLBA*sectorSize {
		return span{}, fmt.Errorf("broken GPT header: entry %d of the array at LBA %d is outside the disk", n, arrayLBA)
	}
	off := int64(arrayLBA*sectorSize + rel)
	var entry [gptMinEntrySize]byte
	if err := d.readAt(entry[:], off, "GPT partition entry"); err != nil {
		return span{}, err
	}
	var typ [16]byte
	copy(typ[:], entry[:16])
	if typ == ([16]byte{}) {
		return span{}, fmt.Errorf("GPT partition %d not found: its entry is unused", n)
	}
	first, last := le.Uint64(entry[32:]), le.Uint64(entry[40:])
	if last < first {
		return span{}, fmt.Errorf("broken GPT entry %d: it ends at LBA %d, before it starts at LBA %d", n, last, first)
	}
	p, ok := lbaSpan(first, last-first+1)
	if !ok {
		return span{}, fmt.Errorf("broken GPT entry %d: LBAs %d to %d are outside the disk", n, first, last)
	}
	return p, nil
}
