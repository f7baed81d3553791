package partitioning

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"unicode/utf16"
)

// GPT layout (UEFI specification, chapter 5): a protective MBR in LBA 0, the header
// in LBA 1, the partition entry array from LBA 2; at the end of the disk a copy of the
// array followed by the backup header in the last LBA.
const (
	gptHeaderSize = 92
	gptEntrySize  = 128
	// gptMinEntries is the smallest array the specification allows (16 KiB); more
	// partitions get a larger array, in steps of as many entries.
	gptMinEntries  = 128
	gptRevision    = 0x00010000
	gptNameChars   = 36 // UTF-16 code units in an entry's name
	gptLegacyBoot  = 1 << 2
	gptEntriesLBA  = 2
	gptPrimaryLBA  = 1
	gptNameOffset  = 56
	gptHeaderMagic = "EFI PART"
)

// buildGPT lays out a disk with a GPT table, as nbdkit does: the primary table, each
// partition aligned as asked and padded to a whole sector, then the backup table.
func buildGPT(parts []part, diskGUID GUID) (*layout, error) {
	entries := roundUp(int64(len(parts)), gptMinEntries)
	arrayBytes := entries * gptEntrySize
	arraySectors := arrayBytes / sectorSize

	l := new(layout)
	primary := make([]byte, (2+arraySectors)*sectorSize)
	l.addTable(primary)
	starts := make([]int64, len(parts))
	for i, p := range parts {
		l.padTo(p.alignment)
		starts[i] = l.addFile(i, p.size)
		l.padTo(sectorSize)
	}
	backup := make([]byte, (1+arraySectors)*sectorSize)
	l.addTable(backup)
	lastLBA := l.size()/sectorSize - 1

	// The protective MBR claims the whole disk, or as much as an MBR can address.
	protected := min(lastLBA, math.MaxUint32) * sectorSize
	if err := putMBREntry(mbrEntry(primary, 0), false, gptProtectiveMBR, sectorSize, protected); err != nil {
		return nil, err // cannot happen: the length is capped
	}
	putBootSignature(primary)

	array := primary[gptEntriesLBA*sectorSize:]
	for i, p := range parts {
		putGPTEntry(array[i*gptEntrySize:(i+1)*gptEntrySize], p, starts[i], i == 0)
	}
	copy(backup, array[:arrayBytes])

	h := gptHeader{
		firstUsable: 2 + arraySectors,
		lastUsable:  lastLBA - arraySectors - 1,
		diskGUID:    diskGUID,
		entries:     uint32(entries),
		arrayCRC:    crc32.ChecksumIEEE(array[:arrayBytes]),
	}
	h.put(primary[gptPrimaryLBA*sectorSize:], gptPrimaryLBA, lastLBA, gptEntriesLBA)
	h.put(backup[arrayBytes:], lastLBA, gptPrimaryLBA, lastLBA-arraySectors)
	return l, nil
}

// gptHeader holds what the primary and backup headers share.
type gptHeader struct {
	firstUsable, lastUsable int64
	diskGUID                GUID
	entries                 uint32
	arrayCRC                uint32
}

// put writes the header at the start of b, for the copy in LBA current whose other
// copy is in LBA other and whose array starts at LBA array.
func (h gptHeader) put(b []byte, current, other, array int64) {
	le := binary.LittleEndian
	copy(b[0:8], gptHeaderMagic)
	le.PutUint32(b[8:], gptRevision)
	le.PutUint32(b[12:], gptHeaderSize)
	le.PutUint64(b[24:], uint64(current))
	le.PutUint64(b[32:], uint64(other))
	le.PutUint64(b[40:], uint64(h.firstUsable))
	le.PutUint64(b[48:], uint64(h.lastUsable))
	copy(b[56:72], h.diskGUID[:])
	le.PutUint64(b[72:], uint64(array))
	le.PutUint32(b[80:], h.entries)
	le.PutUint32(b[84:], gptEntrySize)
	le.PutUint32(b[88:], h.arrayCRC)
	// The header's CRC covers the header with the CRC field zero, so it comes last.
	le.PutUint32(b[16:], crc32.ChecksumIEEE(b[:gptHeaderSize]))
}

// putGPTEntry fills the entry of partition p, which starts at byte start of the disk.
func putGPTEntry(entry []byte, p part, start int64, bootable bool) {
	le := binary.LittleEndian
	copy(entry[0:16], p.typeGUID[:])
	copy(entry[16:32], p.uniqueGUID[:])
	le.PutUint64(entry[32:], uint64(start/sectorSize))
	le.PutUint64(entry[40:], uint64((start+p.size-1)/sectorSize)) // the last LBA, inclusive
	if bootable {
		le.PutUint64(entry[48:], gptLegacyBoot)
	}
	name := utf16.Encode([]rune(p.name))
	for i, c := range name[:min(len(name), gptNameChars)] {
		le.PutUint16(entry[gptNameOffset+2*i:], c)
	}
}

// gptName returns the name nbdkit gives the partition of file: the path as given when
// it is 7-bit ASCII and shorter than the name field, else nothing (a name saying less
// than the path would mislead).
func gptName(file string) string {
	if len(file) >= gptNameChars {
		return ""
	}
	for i := 0; i < len(file); i++ {
		if file[i] >= 0x80 {
			return ""
		}
	}
	return file
}
