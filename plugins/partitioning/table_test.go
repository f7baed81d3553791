package partitioning

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// This file reads partition tables back, independently of the code that writes them,
// to check the tables the plugin makes.

// A foundPartition is a partition as a table describes it, in bytes from the start of
// the disk.
type foundPartition struct {
	start, size int64
	mbrType     byte
	typeGUID    GUID
	name        string
	bootable    bool
}

// readMBRTable returns the partitions of an MBR disk, primary then logical (the
// extended partition itself is left out), and the extended partition's bounds.
func readMBRTable(disk []byte) ([]foundPartition, error) {
	if disk[510] != 0x55 || disk[511] != 0xaa {
		return nil, fmt.Errorf("no boot signature")
	}
	var parts []foundPartition
	var extStart, extEnd int64
	for i := range 4 {
		e := disk[0x1be+16*i:]
		start := int64(binary.LittleEndian.Uint32(e[8:])) * 512
		size := int64(binary.LittleEndian.Uint32(e[12:])) * 512
		switch {
		case e[4] == 0:
			continue
		case e[4] == 0x05 || e[4] == 0x0f:
			extStart, extEnd = start, start+size
			continue
		}
		parts = append(parts, foundPartition{start: start, size: size, mbrType: e[4], bootable: e[0] == 0x80})
	}
	for ebr := extStart; extStart != 0; {
		if ebr < extStart || ebr >= extEnd || int64(len(disk)) < ebr+512 {
			return nil, fmt.Errorf("EBR at %d outside the extended partition [%d, %d)", ebr, extStart, extEnd)
		}
		s := disk[ebr : ebr+512]
		if s[510] != 0x55 || s[511] != 0xaa {
			return nil, fmt.Errorf("EBR at %d has no boot signature", ebr)
		}
		p := foundPartition{
			start:   ebr + int64(binary.LittleEndian.Uint32(s[0x1be+8:]))*512,
			size:    int64(binary.LittleEndian.Uint32(s[0x1be+12:])) * 512,
			mbrType: s[0x1be+4],
		}
		if p.start+p.size > extEnd {
			return nil, fmt.Errorf("logical partition [%d, +%d) past the extended partition's end %d", p.start, p.size, extEnd)
		}
		parts = append(parts, p)
		link := s[0x1ce:]
		if link[4] == 0 {
			break
		}
		next := extStart + int64(binary.LittleEndian.Uint32(link[8:]))*512
		if next <= ebr {
			return nil, fmt.Errorf("EBR chain goes backwards from %d to %d", ebr, next)
		}
		if linkEnd := next + int64(binary.LittleEndian.Uint32(link[12:]))*512; linkEnd > extEnd {
			return nil, fmt.Errorf("EBR link at %d ends at %d, past the extended partition's end %d", ebr, linkEnd, extEnd)
		}
		ebr = next
	}
	return parts, nil
}

// readGPTTable checks both GPT headers and arrays (signatures, CRCs, positions, that
// they agree) and returns the partitions.
func readGPTTable(disk []byte) ([]foundPartition, error) {
	lastLBA := int64(len(disk))/512 - 1
	primary, err := readGPTHeader(disk, 1, lastLBA)
	if err != nil {
		return nil, fmt.Errorf("primary header: %w", err)
	}
	backup, err := readGPTHeader(disk, lastLBA, 1)
	if err != nil {
		return nil, fmt.Errorf("backup header: %w", err)
	}
	if !bytes.Equal(primary.array, backup.array) {
		return nil, fmt.Errorf("the primary and backup arrays differ")
	}
	if e := disk[0x1be:]; e[4] != 0xee || binary.LittleEndian.Uint32(e[8:]) != 1 ||
		int64(binary.LittleEndian.Uint32(e[12:])) != min(lastLBA, 0xffffffff) {
		return nil, fmt.Errorf("bad protective MBR entry % x", e[:16])
	}
	var parts []foundPartition
	for i := 0; i < len(primary.array); i += 128 {
		e := primary.array[i : i+128]
		var p foundPartition
		copy(p.typeGUID[:], e[:16])
		if p.typeGUID == (GUID{}) {
			continue
		}
		first, last := int64(binary.LittleEndian.Uint64(e[32:])), int64(binary.LittleEndian.Uint64(e[40:]))
		if first < primary.firstUsable || last > primary.lastUsable || last < first {
			return nil, fmt.Errorf("entry %d: LBAs %d-%d outside the usable %d-%d", i/128, first, last, primary.firstUsable, primary.lastUsable)
		}
		p.start, p.size = first*512, (last-first+1)*512
		p.bootable = binary.LittleEndian.Uint64(e[48:])&4 != 0
		for j := 56; j < 128; j += 2 {
			c := binary.LittleEndian.Uint16(e[j:])
			if c == 0 {
				break
			}
			p.name += string(rune(c))
		}
		parts = append(parts, p)
	}
	return parts, nil
}

type gptHeaderFound struct {
	firstUsable, lastUsable int64
	array                   []byte
}

func readGPTHeader(disk []byte, lba, otherLBA int64) (gptHeaderFound, error) {
	var h gptHeaderFound
	b := disk[lba*512 : lba*512+512]
	le := binary.LittleEndian
	if string(b[:8]) != "EFI PART" {
		return h, fmt.Errorf("no signature")
	}
	size := le.Uint32(b[12:])
	hdr := append([]byte(nil), b[:size]...)
	binary.LittleEndian.PutUint32(hdr[16:], 0)
	if crc32.ChecksumIEEE(hdr) != le.Uint32(b[16:]) {
		return h, fmt.Errorf("bad header CRC")
	}
	if int64(le.Uint64(b[24:])) != lba || int64(le.Uint64(b[32:])) != otherLBA {
		return h, fmt.Errorf("current/backup LBAs %d/%d, want %d/%d", le.Uint64(b[24:]), le.Uint64(b[32:]), lba, otherLBA)
	}
	h.firstUsable, h.lastUsable = int64(le.Uint64(b[40:])), int64(le.Uint64(b[48:]))
	arrayLBA, n, entrySize := int64(le.Uint64(b[72:])), int64(le.Uint32(b[80:])), int64(le.Uint32(b[84:]))
	if entrySize != 128 {
		return h, fmt.Errorf("entry size %d", entrySize)
	}
	h.array = disk[arrayLBA*512 : arrayLBA*512+n*entrySize]
	if crc32.ChecksumIEEE(h.array) != le.Uint32(b[88:]) {
		return h, fmt.Errorf("bad array CRC")
	}
	arraySectors := (n*entrySize + 511) / 512
	if h.firstUsable != 2+arraySectors || h.lastUsable != int64(len(disk))/512-2-arraySectors {
		return h, fmt.Errorf("usable LBAs %d-%d overlap the tables", h.firstUsable, h.lastUsable)
	}
	return h, nil
}
