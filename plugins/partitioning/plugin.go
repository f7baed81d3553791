package partitioning

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Plugin serves a virtual disk made of a partition table and files, one per partition.
// Every connection sees the same disk: writes to a partition go to its file.
type Plugin struct {
	files    []*os.File
	paths    []string
	layout   *layout
	table    TableType
	readOnly bool // a file could only be opened read-only
}

// A part is what laying the disk out needs to know of a partition.
type part struct {
	size       int64
	alignment  int64
	mbrType    byte
	typeGUID   GUID
	uniqueGUID GUID
	name       string
}

// New opens the files of opts and lays the disk out, or explains why it cannot.
func New(opts Options) (*Plugin, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(opts.Partitions) == 0 {
		return nil, errors.New("at least one file= parameter must be given: each file becomes a partition")
	}
	switch opts.TableType {
	case TableAuto, TableMBR, TableGPT:
	default:
		return nil, fmt.Errorf("unknown partition table type %q: the types are mbr and gpt", opts.TableType)
	}

	p := &Plugin{table: opts.TableType}
	parts := make([]part, len(opts.Partitions))
	var total int64
	for i, o := range opts.Partitions {
		pt, err := p.open(o, log)
		if err != nil {
			p.close()
			return nil, err
		}
		parts[i] = pt
		if total += pt.size; total > maxDiskBytes {
			p.close()
			return nil, fmt.Errorf("the files are %d bytes or more in total, too large for a disk", total)
		}
	}

	if p.table == TableAuto {
		p.table = TableMBR
		if len(parts) > 4 || total > maxMBRFileBytes {
			p.table = TableGPT
		}
	}
	var err error
	switch p.table {
	case TableMBR:
		if total > maxMBRFileBytes {
			err = fmt.Errorf("an MBR partition table addresses about 2 TiB, but the %d file(s) hold %d bytes (more than %d): use partition-type=gpt",
				len(parts), total, int64(maxMBRFileBytes))
			break
		}
		p.layout, err = buildMBR(parts)
	case TableGPT:
		p.layout, err = buildGPT(parts, randomGUID())
	}
	if err != nil {
		p.close()
		return nil, err
	}
	if p.readOnly {
		log.Info("a partition's file could only be opened read-only: the disk is read-only")
	}
	log.Debug("virtual disk laid out", "table", string(p.table), "size", p.layout.size(), "partitions", len(parts))
	return p, nil
}

// maxDiskBytes bounds the files' total size so that the disk's offsets, padding and
// tables included, stay far from overflowing an int64.
const maxDiskBytes = 1 << 62

// open opens the file of one partition and describes the partition.
func (p *Plugin) open(o Partition, log *slog.Logger) (part, error) {
	pt := part{
		alignment: o.Alignment,
		mbrType:   o.MBRType,
		typeGUID:  o.TypeGUID,
		// nbdkit makes the partitions' GUIDs afresh each run, as it does here.
		uniqueGUID: randomGUID(),
		name:       gptName(o.File),
	}
	if pt.alignment == 0 {
		pt.alignment = defaultAlignment
	}
	if err := checkAlignment(pt.alignment); err != nil {
		return pt, fmt.Errorf("%s: %w", o.File, err)
	}
	if pt.mbrType == 0 {
		pt.mbrType = defaultMBRType
	}
	if pt.typeGUID == (GUID{}) {
		pt.typeGUID = linuxFilesystemGUID()
	}

	f, err := os.OpenFile(o.File, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
		f, err = os.Open(o.File)
		if err == nil {
			log.Debug("opened read-only", "file", o.File)
			p.readOnly = true
		}
	}
	if err != nil {
		return pt, err // *fs.PathError names the file
	}
	p.files = append(p.files, f)
	p.paths = append(p.paths, o.File)
	if info, err := f.Stat(); err != nil {
		return pt, err
	} else if info.IsDir() {
		return pt, fmt.Errorf("%s: is a directory, not a file", o.File)
	}
	// Seeking to the end measures block devices too, whose Stat size is 0.
	if pt.size, err = f.Seek(0, io.SeekEnd); err != nil {
		return pt, err
	}
	if pt.size == 0 {
		return pt, fmt.Errorf("%s: the file is empty, and empty partitions are not allowed", o.File)
	}
	return pt, nil
}

// checkAlignment refuses alignments nbdkit cannot honour: not a power of 2, smaller
// than a sector or larger than 1 MiB.
func checkAlignment(a int64) error {
	if a < sectorSize || a > maxAlignment || a&(a-1) != 0 {
		return fmt.Errorf("alignment %d must be a power of 2 from %d (a sector) to %d (1 MiB)", a, sectorSize, maxAlignment)
	}
	return nil
}

// Size returns the size of the virtual disk in bytes.
func (p *Plugin) Size() int64 { return p.layout.size() }

// TableType returns the kind of partition table the disk has, MBR or GPT.
func (p *Plugin) TableType() TableType { return p.table }

// Open returns a handle on the disk. Every connection shares the files.
func (p *Plugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	return handle{p}, nil
}

// Cleanup closes the files. No handle may be used afterwards.
func (p *Plugin) Cleanup(ctx context.Context) { p.close() }

func (p *Plugin) close() {
	for _, f := range p.files {
		f.Close() // the data went through Flush already, or never will
	}
	p.files = nil
}
