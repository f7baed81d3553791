package partition

import (
	"encoding/binary"
	"hash/crc32"
)

// Partition tables written by the tests, to put on a servertest.Disk. They are built
// here byte by byte, independently of the code that reads them.

// entry is an MBR or EBR entry, or a GPT entry (first and last LBA, any type).
type entry struct {
	typ            byte
	start, sectors uint32
}

func putMBREntry(sector []byte, i int, e entry) {
	b := sector[0x1be+16*i:]
	b[4] = e.typ
	binary.LittleEndian.PutUint32(b[8:], e.start)
	binary.LittleEndian.PutUint32(b[12:], e.sectors)
}

func putSignature(sector []byte) { sector[510], sector[511] = 0x55, 0xaa }

// logical is a logical partition: its EBR's sector and its own place, in absolute
// sectors.
type logical struct {
	ebr, start, sectors uint32
}

// mbrDisk returns a disk of size bytes with an MBR table of primary entries and, if the
// extended entry is among them, a chain of EBRs for the logical partitions.
func mbrDisk(size int64, primary []entry, logicals []logical) []byte {
	disk := make([]byte, size)
	putSignature(disk)
	var extStart uint32
	for i, e := range primary {
		putMBREntry(disk, i, e)
		if e.typ == 0x05 || e.typ == 0x0f || e.typ == 0x85 {
			extStart = e.start
		}
	}
	for i, l := range logicals {
		ebr := disk[int64(l.ebr)*512:]
		putSignature(ebr)
		putMBREntry(ebr, 0, entry{typ: 0x83, start: l.start - l.ebr, sectors: l.sectors})
		if i+1 < len(logicals) {
			next := logicals[i+1]
			putMBREntry(ebr, 1, entry{typ: 0x05, start: next.ebr - extStart, sectors: next.start + next.sectors - next.ebr})
		}
	}
	return disk
}

// gptPart is a GPT partition, in LBAs (last inclusive); a zero type leaves the entry
// unused.
type gptPart struct {
	used        bool
	first, last uint64
}

// gptDisk returns a disk of size bytes with a protective MBR and a primary GPT header
// and array (of 128 entries, at LBA 2) describing parts, with correct CRCs.
func gptDisk(size int64, parts []gptPart) []byte {
	disk := make([]byte, size)
	putSignature(disk)
	putMBREntry(disk, 0, entry{typ: 0xee, start: 1, sectors: uint32(size/512 - 1)})
	le := binary.LittleEndian
	array := disk[1024 : 1024+128*128]
	for i, p := range parts {
		e := array[i*128:]
		if p.used {
			copy(e, []byte{0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4})
		}
		le.PutUint64(e[32:], p.first)
		le.PutUint64(e[40:], p.last)
	}
	h := disk[512:]
	copy(h, "EFI PART")
	le.PutUint32(h[8:], 0x00010000)
	le.PutUint32(h[12:], 92)
	le.PutUint64(h[24:], 1)
	le.PutUint64(h[32:], uint64(size/512-1))
	le.PutUint64(h[40:], 34)
	le.PutUint64(h[48:], uint64(size/512-34))
	le.PutUint64(h[72:], 2)
	le.PutUint32(h[80:], 128)
	le.PutUint32(h[84:], 128)
	le.PutUint32(h[88:], crc32.ChecksumIEEE(array))
	le.PutUint32(h[16:], crc32.ChecksumIEEE(h[:92]))
	return disk
}
