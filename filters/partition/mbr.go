package partition

import (
	"encoding/binary"
	"fmt"
)

// MBR layout: four 16-byte entries from byte 0x1be, then the boot signature 55 AA.
// An EBR (extended boot record) has the same layout and uses its first two entries:
// the logical partition, relative to the EBR, and the link to the next EBR, relative
// to the start of the extended partition.
const mbrEntries = 0x1be

// mbrEntry is an entry of an MBR or EBR.
type mbrEntry struct {
	typ            byte
	start, sectors uint32
}

func readMBREntry(sector []byte, i int) mbrEntry {
	e := sector[mbrEntries+16*i:]
	return mbrEntry{typ: e[4], start: binary.LittleEndian.Uint32(e[8:]), sectors: binary.LittleEndian.Uint32(e[12:])}
}

// isExtended reports whether an MBR type is an extended partition: DOS (0x05), LBA
// (0x0f) or Linux (0x85).
func isExtended(typ byte) bool { return typ == 0x05 || typ == 0x0f || typ == 0x85 }

// used reports whether an entry describes a partition.
func (e mbrEntry) used() bool { return e.typ != 0 && e.sectors != 0 }

// findMBRPartition finds partition n of the MBR disk whose sector 0 is mbr: primary
// partitions are 1 to 4, logical partitions 5 and up in the order of the EBR chain.
func (d disk) findMBRPartition(mbr []byte, n int) (span, error) {
	if n <= 4 {
		e := readMBREntry(mbr, n-1)
		if !e.used() {
			return span{}, fmt.Errorf("MBR partition %d not found: its entry is empty", n)
		}
		if isExtended(e.typ) {
			return span{}, fmt.Errorf("MBR partition %d is the extended partition (type %#02x), which holds the logical partitions 5 and up", n, e.typ)
		}
		p, _ := lbaSpan(uint64(e.start), uint64(e.sectors)) // 32-bit values always fit
		return p, nil
	}

	var ext mbrEntry
	for i := range 4 {
		if e := readMBREntry(mbr, i); e.sectors != 0 && isExtended(e.typ) {
			ext = e
			break
		}
	}
	if ext.sectors == 0 {
		return span{}, fmt.Errorf("MBR partition %d is a logical partition, but the table has no extended partition", n)
	}
	extStart := int64(ext.start) * sectorSize
	extEnd := extStart + int64(ext.sectors)*sectorSize

	var sector [sectorSize]byte
	ebr := extStart
	// The chain may only go forward inside the extended partition, so it ends.
	for i := 5; ; i++ {
		if ebr < extStart || ebr >= extEnd {
			return span{}, fmt.Errorf("broken EBR chain: the EBR of partition %d at byte %d is outside the extended partition [%d, %d)", i, ebr, extStart, extEnd)
		}
		if err := d.readAt(sector[:], ebr, "EBR"); err != nil {
			return span{}, err
		}
		if sector[0x1fe] != 0x55 || sector[0x1ff] != 0xaa {
			return span{}, fmt.Errorf("broken EBR chain: the EBR of partition %d at byte %d has no boot signature", i, ebr)
		}
		if i == n {
			e := readMBREntry(sector[:], 0)
			if !e.used() {
				return span{}, fmt.Errorf("MBR partition %d not found: its EBR at byte %d holds no partition", n, ebr)
			}
			return span{ebr + int64(e.start)*sectorSize, int64(e.sectors) * sectorSize}, nil
		}
		link := readMBREntry(sector[:], 1)
		if link.typ == 0 && link.start == 0 && link.sectors == 0 {
			return span{}, fmt.Errorf("MBR partition %d not found: the last logical partition is %d", n, i)
		}
		next := extStart + int64(link.start)*sectorSize
		if next <= ebr {
			return span{}, fmt.Errorf("broken EBR chain: the EBR at byte %d links back to byte %d", ebr, next)
		}
		ebr = next
	}
}
