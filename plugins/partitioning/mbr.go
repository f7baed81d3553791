package partitioning

import (
	"encoding/binary"
	"fmt"
	"math"
)

// MBR layout: four 16-byte entries from byte 0x1be, then the boot signature 55 AA.
// An EBR (extended boot record) has the same layout and uses the first two entries.
const (
	mbrEntriesOffset = 0x1be
	mbrEntrySize     = 16
	mbrExtendedType  = 0x0f // extended partition, LBA addressing
	gptProtectiveMBR = 0xee
	// maxMBRFileBytes is the total size of the files beyond which a table chosen
	// automatically is GPT (nbdkit's limit: what 32-bit sector numbers address, less 5
	// MiB for the tables and padding).
	maxMBRFileBytes = math.MaxUint32*sectorSize - 5*defaultAlignment
)

// mbrEntry returns the bytes of entry i of an MBR or EBR sector.
func mbrEntry(sector []byte, i int) []byte {
	off := mbrEntriesOffset + i*mbrEntrySize
	return sector[off : off+mbrEntrySize]
}

// putMBREntry fills an MBR entry for the partition of length bytes starting start bytes
// from the table's origin (the disk, or for EBR entries a position given by the
// caller). The CHS fields hold the "beyond CHS" marker every current tool ignores, as
// in nbdkit's tables; the LBA fields are what counts.
func putMBREntry(entry []byte, bootable bool, typ byte, start, length int64) error {
	first, count := start/sectorSize, sectors(length)
	if first > math.MaxUint32 || count > math.MaxUint32 {
		return fmt.Errorf("a partition at byte %d of %d bytes is beyond what an MBR table can address (2 TiB): use partition-type=gpt", start, length)
	}
	if bootable {
		entry[0] = 0x80
	}
	copy(entry[1:4], []byte{0xfe, 0xff, 0xff})
	entry[4] = typ
	copy(entry[5:8], []byte{0xfe, 0xff, 0xff})
	binary.LittleEndian.PutUint32(entry[8:12], uint32(first))
	binary.LittleEndian.PutUint32(entry[12:16], uint32(count))
	return nil
}

// putBootSignature marks an MBR or EBR sector as valid.
func putBootSignature(sector []byte) {
	sector[0x1fe], sector[0x1ff] = 0x55, 0xaa
}

// buildMBR lays out a disk with an MBR table, as nbdkit does. Up to 4 partitions are
// primary. With more, partitions 1 to 3 are primary and the 4th entry is an extended
// partition reaching to the end of the disk, holding one logical partition per
// remaining file, each preceded by its EBR: the EBR's first entry places the
// partition relative to the EBR, its second links to the next EBR, relative to the
// start of the extended partition.
func buildMBR(parts []part) (*layout, error) {
	l := new(layout)
	mbr := make([]byte, sectorSize)
	l.addTable(mbr)
	putBootSignature(mbr)

	logical := len(parts) > 4
	starts := make([]int64, len(parts))
	ebrStarts := make([]int64, len(parts))
	ebrs := make([][]byte, len(parts))
	for i, p := range parts {
		if logical && i >= 3 {
			ebrs[i] = make([]byte, sectorSize)
			ebrStarts[i] = l.addTable(ebrs[i])
		}
		l.padTo(p.alignment)
		starts[i] = l.addFile(i, p.size)
		l.padTo(sectorSize)
	}

	primaries := len(parts)
	if logical {
		primaries = 3
	}
	for i, p := range parts[:primaries] {
		if err := putMBREntry(mbrEntry(mbr, i), i == 0, p.mbrType, starts[i], p.size); err != nil {
			return nil, fmt.Errorf("partition %d: %w", i+1, err)
		}
	}
	if !logical {
		return l, nil
	}

	extended := ebrStarts[3]
	if err := putMBREntry(mbrEntry(mbr, 3), false, mbrExtendedType, extended, l.size()-extended); err != nil {
		return nil, fmt.Errorf("the extended partition: %w", err)
	}
	for i := 3; i < len(parts); i++ {
		ebr := ebrs[i]
		putBootSignature(ebr)
		if err := putMBREntry(mbrEntry(ebr, 0), false, parts[i].mbrType, starts[i]-ebrStarts[i], parts[i].size); err != nil {
			return nil, fmt.Errorf("partition %d: %w", i+2, err)
		}
		if next := i + 1; next < len(parts) {
			// The link covers the next EBR, its padding and its partition.
			length := starts[next] + parts[next].size - ebrStarts[next]
			if err := putMBREntry(mbrEntry(ebr, 1), false, mbrExtendedType, ebrStarts[next]-extended, length); err != nil {
				return nil, fmt.Errorf("partition %d: %w", next+2, err)
			}
		}
	}
	return l, nil
}
