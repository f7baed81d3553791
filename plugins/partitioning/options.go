package partitioning

import "log/slog"

// Options describe a partitioned disk. Partitions is the only field that needs setting;
// the zero value of every other field is its default.
type Options struct {
	// Partitions are the disk's partitions, in order: partition 1 first. At least one
	// is needed.
	Partitions []Partition
	// TableType is the kind of partition table, TableMBR or TableGPT. The default,
	// TableAuto, chooses as nbdkit does: GPT for more than 4 partitions or for files
	// too large for MBR in total (about 2 TiB), MBR otherwise.
	TableType TableType
	// Logger receives the plugin's messages. Default: none are logged.
	Logger *slog.Logger
}

// A Partition is one partition of the disk, whose contents are a file.
type Partition struct {
	// File is the path of the file (or block device) holding the partition's contents.
	// It is opened read-write when possible, read-only otherwise. The partition is the
	// file's size rounded up to a whole number of 512-byte sectors; the rounding reads
	// as zeroes. An empty file is refused.
	File string
	// Alignment is where the partition may start: at a multiple of Alignment bytes, a
	// power of 2 from 512 to 1 MiB. Default 1 MiB (2048 sectors).
	Alignment int64
	// MBRType is the partition's type byte in an MBR table. Default 0x83 (Linux).
	// 0 cannot be chosen: it marks an unused entry.
	MBRType byte
	// TypeGUID is the partition's type in a GPT table. Default (the zero GUID, which
	// marks an unused entry) 0FC63DAF-8483-4772-8E79-3D69D8477DE4 (Linux filesystem).
	TypeGUID GUID
}

// TableType names a kind of partition table.
type TableType string

const (
	// TableAuto chooses the kind of table as nbdkit does (see [Options]).
	TableAuto TableType = ""
	// TableMBR is a DOS (MBR) table, with an extended partition holding partitions 5
	// and up when there are more than 4.
	TableMBR TableType = "mbr"
	// TableGPT is a GUID partition table with a protective MBR.
	TableGPT TableType = "gpt"
)

// Defaults and limits, as in nbdkit.
const (
	sectorSize       = 512
	defaultAlignment = 1 << 20
	maxAlignment     = 1 << 20
	defaultMBRType   = 0x83
)
