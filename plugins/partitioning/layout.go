package partitioning

// A regionKind says where the bytes of a region of the disk come from.
type regionKind uint8

const (
	// regionTable is a partition table (MBR, EBR or GPT) kept in memory.
	regionTable regionKind = iota
	// regionPadding is alignment padding, which reads as zeroes.
	regionPadding
	// regionFile is a partition's file.
	regionFile
)

// A region is a range of the virtual disk, [start, end).
type region struct {
	start, end int64
	kind       regionKind
	table      []byte // regionTable: the region's bytes
	file       int    // regionFile: the partition's index
}

// A layout is the virtual disk: regions that cover it from 0 to size, in order,
// without gaps.
type layout struct {
	regions []region
}

// size returns the size of the disk.
func (l *layout) size() int64 {
	if len(l.regions) == 0 {
		return 0
	}
	return l.regions[len(l.regions)-1].end
}

// addTable appends a partition table region holding table.
func (l *layout) addTable(table []byte) (start int64) {
	start = l.size()
	l.regions = append(l.regions, region{start: start, end: start + int64(len(table)), kind: regionTable, table: table})
	return start
}

// addFile appends the region of partition i, of length bytes.
func (l *layout) addFile(i int, length int64) (start int64) {
	start = l.size()
	l.regions = append(l.regions, region{start: start, end: start + length, kind: regionFile, file: i})
	return start
}

// padTo appends padding up to the next multiple of alignment, if the disk does not end
// at one already.
func (l *layout) padTo(alignment int64) {
	start := l.size()
	if end := roundUp(start, alignment); end > start {
		l.regions = append(l.regions, region{start: start, end: end, kind: regionPadding})
	}
}

// find returns the index of the region holding off, which must be within the disk.
// It is a binary search written out, so that the hot path allocates nothing.
func (l *layout) find(off int64) int {
	lo, hi := 0, len(l.regions)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if l.regions[mid].end <= off {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// roundUp returns n rounded up to a multiple of m.
func roundUp(n, m int64) int64 {
	return (n + m - 1) / m * m
}

// sectors returns how many sectors n bytes take.
func sectors(n int64) int64 {
	return (n + sectorSize - 1) / sectorSize
}
