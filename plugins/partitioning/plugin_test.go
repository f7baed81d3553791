package partitioning

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/server"
)

// writeFiles makes one file of random bytes per size in a temporary directory and
// returns their paths and contents.
func writeFiles(t testing.TB, sizes ...int64) (paths []string, contents [][]byte) {
	t.Helper()
	dir := t.TempDir()
	for i, size := range sizes {
		b := make([]byte, size)
		rand.Read(b)
		path := filepath.Join(dir, fmt.Sprintf("part%d", i+1))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths, contents = append(paths, path), append(contents, b)
	}
	return paths, contents
}

func newPlugin(t testing.TB, opts Options) *Plugin {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { p.Cleanup(context.Background()) })
	return p
}

// partitionsOf returns Options for the files, with default settings.
func partitionsOf(paths []string) []Partition {
	parts := make([]Partition, len(paths))
	for i, p := range paths {
		parts[i] = Partition{File: p}
	}
	return parts
}

// openHandle opens the plugin as the server does, through server.PluginLayer.
func openHandle(t testing.TB, p *Plugin, readOnly bool) server.LayerHandle {
	t.Helper()
	ctx := context.Background()
	h, err := server.PluginLayer("partitioning", p).Open(ctx, server.OpenRequest{ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, readOnly); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(ctx) })
	return h
}

// readDisk reads the whole disk through h, in odd-sized pieces that straddle regions.
func readDisk(t testing.TB, h server.LayerHandle) []byte {
	t.Helper()
	ctx := context.Background()
	size, err := h.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	disk := make([]byte, size)
	const piece = 100003
	for off := int64(0); off < size; off += piece {
		if err := h.ReadAt(ctx, disk[off:min(off+piece, size)], off, 0); err != nil {
			t.Fatalf("ReadAt(%d): %v", off, err)
		}
	}
	return disk
}

// TestLayoutMatchesNbdkit checks the layouts nbdkit 1.32's partitioning plugin makes
// for the same files (seen with sfdisk --dump of its disks): partition starts and
// sizes in sectors, and the disk's size.
func TestLayoutMatchesNbdkit(t *testing.T) {
	type want struct{ start, sectors int64 }
	tests := []struct {
		name       string
		sizes      []int64
		table      TableType
		wantTable  TableType
		wantParts  []want // logical partitions after the primary ones; no extended
		diskSector int64
	}{
		{"three MBR", []int64{1000, 70000, 1 << 20}, TableAuto, TableMBR,
			[]want{{2048, 2}, {4096, 137}, {6144, 2048}}, 8192},
		{"two MBR", []int64{1 << 20, 70000}, TableAuto, TableMBR,
			[]want{{2048, 2048}, {4096, 137}}, 4233},
		{"six MBR with logical partitions", []int64{1000, 70000, 1 << 20, 5000, 512, 3000000}, TableMBR, TableMBR,
			[]want{{2048, 2}, {4096, 137}, {6144, 2048}, {10240, 10}, {12288, 1}, {14336, 5860}}, 20196},
		{"five GPT", []int64{1000, 70000, 1 << 20, 5000, 512}, TableAuto, TableGPT,
			[]want{{2048, 2}, {4096, 137}, {6144, 2048}, {8192, 10}, {10240, 1}}, 10274},
		{"one GPT", []int64{1000}, TableGPT, TableGPT, []want{{2048, 2}}, 2048 + 2 + 33},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			paths, _ := writeFiles(t, tt.sizes...)
			p := newPlugin(t, Options{Partitions: partitionsOf(paths), TableType: tt.table})
			if p.TableType() != tt.wantTable {
				t.Fatalf("table %q, want %q", p.TableType(), tt.wantTable)
			}
			if p.Size() != tt.diskSector*512 {
				t.Errorf("disk of %d bytes, want %d sectors (%d bytes)", p.Size(), tt.diskSector, tt.diskSector*512)
			}
			disk := readDisk(t, openHandle(t, p, true))
			found, err := readTable(tt.wantTable, disk)
			if err != nil {
				t.Fatal(err)
			}
			if len(found) != len(tt.wantParts) {
				t.Fatalf("%d partitions, want %d: %+v", len(found), len(tt.wantParts), found)
			}
			for i, w := range tt.wantParts {
				if found[i].start != w.start*512 || found[i].size != w.sectors*512 {
					t.Errorf("partition %d at sector %d, %d sectors; nbdkit: %d, %d",
						i+1, found[i].start/512, found[i].size/512, w.start, w.sectors)
				}
				if found[i].bootable != (i == 0) {
					t.Errorf("partition %d bootable = %v", i+1, found[i].bootable)
				}
			}
		})
	}
}

// TestEBRLinksMatchNbdkit checks the bytes of the EBR links of the six-file MBR disk
// against nbdkit's: each link covers the next EBR through the end of its partition.
func TestEBRLinksMatchNbdkit(t *testing.T) {
	paths, _ := writeFiles(t, 1000, 70000, 1<<20, 5000, 512, 3000000)
	disk := readDisk(t, openHandle(t, newPlugin(t, Options{Partitions: partitionsOf(paths), TableType: TableMBR}), true))
	// The extended partition, in the MBR's 4th entry.
	if got, want := disk[0x1ee:0x1fe], []byte{0, 0xfe, 0xff, 0xff, 0x0f, 0xfe, 0xff, 0xff, 0x00, 0x20, 0, 0, 0xe4, 0x2e, 0, 0}; !bytes.Equal(got, want) {
		t.Errorf("extended entry % x, nbdkit's % x", got, want)
	}
	for _, tt := range []struct {
		ebr  int64  // sector
		want []byte // the sector's bytes 0x1be-0x1de: partition entry and link
	}{
		{8192, []byte{0, 0xfe, 0xff, 0xff, 0x83, 0xfe, 0xff, 0xff, 0x00, 0x08, 0, 0, 0x0a, 0, 0, 0,
			0, 0xfe, 0xff, 0xff, 0x0f, 0xfe, 0xff, 0xff, 0x0a, 0x08, 0, 0, 0xf7, 0x07, 0, 0}},
		{10250, []byte{0, 0xfe, 0xff, 0xff, 0x83, 0xfe, 0xff, 0xff, 0xf6, 0x07, 0, 0, 0x01, 0, 0, 0,
			0, 0xfe, 0xff, 0xff, 0x0f, 0xfe, 0xff, 0xff, 0x01, 0x10, 0, 0, 0xe3, 0x1e, 0, 0}},
		{12289, []byte{0, 0xfe, 0xff, 0xff, 0x83, 0xfe, 0xff, 0xff, 0xff, 0x07, 0, 0, 0xe4, 0x16, 0, 0,
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	} {
		got := disk[tt.ebr*512+0x1be : tt.ebr*512+0x1de]
		if !bytes.Equal(got, tt.want) {
			t.Errorf("EBR at sector %d:\n got % x\nwant % x", tt.ebr, got, tt.want)
		}
	}
}

func TestAlignmentTypesAndNames(t *testing.T) {
	paths, _ := writeFiles(t, 1000, 5000, 512, 70000)
	swap, err := ParseGUID("0657FD6D-A4AB-43C4-84E5-0933C84B4F4F")
	if err != nil {
		t.Fatal(err)
	}
	parts := []Partition{
		{File: paths[0], MBRType: 0x82, TypeGUID: swap},
		{File: paths[1], Alignment: 512},
		{File: paths[2], Alignment: 4096},
		{File: paths[3], Alignment: 4096, MBRType: 7},
	}
	// nbdkit: mbr-id=0x82 f1000 mbr-id=default alignment=512 f5000 alignment=4096 f512 mbr-id=7 f70000
	wantStarts := []int64{2048, 2050, 2064, 2072}
	wantMBRTypes := []byte{0x82, 0x83, 0x83, 7}
	for _, table := range []TableType{TableMBR, TableGPT} {
		t.Run(string(table), func(t *testing.T) {
			disk := readDisk(t, openHandle(t, newPlugin(t, Options{Partitions: parts, TableType: table}), true))
			found, err := readTable(table, disk)
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range found {
				if f.start != wantStarts[i]*512 {
					t.Errorf("partition %d at sector %d, want %d", i+1, f.start/512, wantStarts[i])
				}
				switch table {
				case TableMBR:
					if f.mbrType != wantMBRTypes[i] {
						t.Errorf("partition %d of type %#x, want %#x", i+1, f.mbrType, wantMBRTypes[i])
					}
				case TableGPT:
					wantType := linuxFilesystemGUID()
					if i == 0 {
						wantType = swap
					}
					if f.typeGUID != wantType {
						t.Errorf("partition %d of type %v, want %v", i+1, f.typeGUID, wantType)
					}
					if want := gptName(paths[i]); f.name != want {
						t.Errorf("partition %d named %q, want %q", i+1, f.name, want)
					}
				}
			}
		})
	}
}

// TestManyGPTPartitions checks that more than 128 partitions get a larger array, as in
// nbdkit: 130 one-sector files aligned to 512 make a 256-entry array, the first
// partition at sector 66 and a disk of 261 sectors.
func TestManyGPTPartitions(t *testing.T) {
	sizes := make([]int64, 130)
	for i := range sizes {
		sizes[i] = 512
	}
	paths, contents := writeFiles(t, sizes...)
	parts := partitionsOf(paths)
	for i := range parts {
		parts[i].Alignment = 512
	}
	p := newPlugin(t, Options{Partitions: parts})
	if p.TableType() != TableGPT || p.Size() != 261*512 {
		t.Fatalf("table %s of %d bytes, want gpt of 261 sectors", p.TableType(), p.Size())
	}
	disk := readDisk(t, openHandle(t, p, true))
	found, err := readGPTTable(disk)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 130 || found[0].start != 66*512 {
		t.Fatalf("%d partitions, the first at %d", len(found), found[0].start)
	}
	for i, f := range found {
		if !bytes.Equal(disk[f.start:f.start+f.size], contents[i]) {
			t.Errorf("partition %d does not hold its file", i+1)
		}
	}
}

func readTable(table TableType, disk []byte) ([]foundPartition, error) {
	if table == TableGPT {
		return readGPTTable(disk)
	}
	return readMBRTable(disk)
}

// TestReadsMapToFiles checks that each partition reads as its file followed by zeroes
// to the end of its last sector, and the padding as zeroes, for 1 to 6 files.
func TestReadsMapToFiles(t *testing.T) {
	allSizes := []int64{4 << 20, 1, 123457, 512, 2<<20 + 7, 65536}
	for n := 1; n <= len(allSizes); n++ {
		for _, table := range []TableType{TableMBR, TableGPT} {
			t.Run(fmt.Sprintf("%d-%s", n, table), func(t *testing.T) {
				paths, contents := writeFiles(t, allSizes[:n]...)
				p := newPlugin(t, Options{Partitions: partitionsOf(paths), TableType: table})
				disk := readDisk(t, openHandle(t, p, true))
				found, err := readTable(table, disk)
				if err != nil {
					t.Fatal(err)
				}
				if len(found) != n {
					t.Fatalf("%d partitions, want %d", len(found), n)
				}
				for i, f := range found {
					got := disk[f.start : f.start+f.size]
					want := append(contents[i], make([]byte, f.size-int64(len(contents[i])))...)
					if !bytes.Equal(got, want) {
						t.Errorf("partition %d does not read as its file", i+1)
					}
					if f.start%(1<<20) != 0 {
						t.Errorf("partition %d at %d is not aligned to 1 MiB", i+1, f.start)
					}
				}
				// Everything outside the partitions and tables is padding: zero.
				for _, r := range p.layout.regions {
					if r.kind == regionPadding && !allZero(disk[r.start:r.end]) {
						t.Errorf("padding [%d, %d) is not zero", r.start, r.end)
					}
				}
			})
		}
	}
}

func TestWrites(t *testing.T) {
	ctx := context.Background()
	paths, contents := writeFiles(t, 1000, 70000)
	p := newPlugin(t, Options{Partitions: partitionsOf(paths)})
	h := openHandle(t, p, false)
	caps, err := h.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Write || !caps.Flush || !caps.Zero || caps.Trim || !caps.MultiConn || !caps.Extents || caps.Cache != server.CacheEmulate {
		t.Errorf("capabilities %+v", caps)
	}
	disk := readDisk(t, h)

	// A write across the end of partition 1's file, into its last sector's tail (zeroes
	// there are fine) goes to the file.
	second := int64(4096 * 512)
	if err := h.WriteAt(ctx, []byte("hello"), 2048*512+10, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteAt(ctx, append([]byte("end!"), make([]byte, 20)...), 2048*512+996, server.FlagFUA); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteAt(ctx, []byte("second"), second+69994, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(ctx, 0); err != nil {
		t.Fatal(err)
	}
	want0 := append([]byte(nil), contents[0]...)
	copy(want0[10:], "hello")
	copy(want0[996:], "end!")
	if got, _ := os.ReadFile(paths[0]); !bytes.Equal(got, want0) {
		t.Error("file 1 does not hold what was written")
	}
	want1 := append([]byte(nil), contents[1]...)
	copy(want1[69994:], "second")
	if got, _ := os.ReadFile(paths[1]); !bytes.Equal(got, want1) {
		t.Error("file 2 does not hold what was written")
	}

	// Writing what the table and padding already hold succeeds, as copying a whole disk
	// onto this one does; changing them fails with EIO, and changes nothing.
	if err := h.WriteAt(ctx, disk[:2048*512], 0, 0); err != nil {
		t.Errorf("rewriting the table and padding as they are: %v", err)
	}
	if err := h.Zero(ctx, 4096, 8192, 0); err != nil {
		t.Errorf("zeroing padding: %v", err)
	}
	for _, tt := range []struct {
		name string
		off  int64
		data []byte
	}{
		{"table", 0x1c6, []byte{1}},
		{"padding", 4096, []byte{1}},
		{"padding after a file's tail", 2048*512 + 1020, []byte{0, 0, 0, 0, 1}},
		{"the table, then a partition", 2048*512 - 1, []byte{1, 2, 3}},
	} {
		err := h.WriteAt(ctx, tt.data, tt.off, 0)
		if !errors.Is(err, syscall.EIO) {
			t.Errorf("write to the %s: %v, want EIO", tt.name, err)
		}
	}
	if err := h.Zero(ctx, 0, 512, 0); !errors.Is(err, syscall.EIO) {
		t.Errorf("zeroing the MBR: %v, want EIO", err)
	}
	if got := readDisk(t, h); !bytes.Equal(got[:2048*512], disk[:2048*512]) {
		t.Error("a refused write changed the table or padding")
	}
}

func TestReadOnlyConnection(t *testing.T) {
	paths, _ := writeFiles(t, 1000)
	h := openHandle(t, newPlugin(t, Options{Partitions: partitionsOf(paths)}), true)
	caps, err := h.Capabilities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if caps.Write || caps.Zero || caps.Trim {
		t.Errorf("read-only connection offers %+v", caps)
	}
}

func TestExtents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// A sparse file: 64 KiB of data, a 1 MiB hole, 64 KiB of data, and a hole to its
	// end at 3 MiB.
	sparse := filepath.Join(dir, "sparse")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{0xab}, 64<<10)
	for _, off := range []int64{0, 64<<10 + 1<<20} {
		if _, err := f.WriteAt(data, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(3 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()

	p := newPlugin(t, Options{Partitions: []Partition{{File: sparse}}, TableType: TableGPT})
	h := openHandle(t, p, true)
	size := p.Size()
	e := server.NewExtentList(0, size)
	if err := h.Extents(ctx, 0, size, 0, e); err != nil {
		t.Fatal(err)
	}
	const mib = 1 << 20
	table := int64(34 * 512)
	hole, data0 := server.ExtentHole|server.ExtentZero, server.ExtentData
	want := []server.Extent{
		{Offset: 0, Length: table, Type: data0},
		{Offset: table, Length: mib - table, Type: hole},
		{Offset: mib, Length: 64 << 10, Type: data0},
	}
	got := e.Extents()
	if len(got) < 3 || !equalExtents(got[:3], want) {
		t.Fatalf("extents start %v, want %v", got, want)
	}
	if last := got[len(got)-1]; last.Type != data0 || last.Offset+last.Length != size || last.Length != 33*512 {
		t.Errorf("the backup table is not the last extent: %v", got)
	}
	if !supportsSeekData(sparse) {
		t.Skip("the file system has no SEEK_DATA: no holes to find in files")
	}
	want = append(want,
		server.Extent{Offset: mib + 64<<10, Length: mib, Type: hole},
		server.Extent{Offset: 2*mib + 64<<10, Length: 64 << 10, Type: data0},
		server.Extent{Offset: 2*mib + 128<<10, Length: 2*mib - 128<<10, Type: hole},
		server.Extent{Offset: 4 * mib, Length: 33 * 512, Type: data0},
	)
	if !equalExtents(got, want) {
		t.Errorf("extents\n got %v\nwant %v", got, want)
	}

	// A range within the partition, and FlagReqOne.
	e = server.NewExtentList(mib+32<<10, mib+96<<10)
	if err := h.Extents(ctx, mib+32<<10, 64<<10, server.FlagReqOne, e); err != nil {
		t.Fatal(err)
	}
	if got := e.Extents(); len(got) == 0 || got[0] != (server.Extent{Offset: mib + 32<<10, Length: 32 << 10, Type: data0}) {
		t.Errorf("extents of a range: %v", got)
	}
}

func equalExtents(a, b []server.Extent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// supportsSeekData reports whether the file system of path reports holes: a file
// system without SEEK_DATA reports the whole file as data.
func supportsSeekData(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	off, err := f.Seek(0, 4) // SEEK_HOLE
	return err == nil && off < 3<<20
}

func TestNewRefuses(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	paths, _ := writeFiles(t, 1000)
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 2<<40); err != nil {
		t.Skipf("cannot make a 2 TiB sparse file here: %v", err)
	}
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"no partitions", Options{}, []string{"at least one file"}},
		{"missing file", Options{Partitions: []Partition{{File: filepath.Join(dir, "nope")}}}, []string{"nope", "no such file"}},
		{"directory", Options{Partitions: []Partition{{File: dir}}}, []string{dir, "directory"}},
		{"empty file", Options{Partitions: []Partition{{File: empty}}}, []string{empty, "empty"}},
		{"bad alignment", Options{Partitions: []Partition{{File: paths[0], Alignment: 3072}}}, []string{"3072", "power of 2"}},
		{"alignment too large", Options{Partitions: []Partition{{File: paths[0], Alignment: 2 << 20}}}, []string{"2097152"}},
		{"bad table type", Options{Partitions: partitionsOf(paths), TableType: "apm"}, []string{`"apm"`, "mbr", "gpt"}},
		{"too large for MBR", Options{Partitions: []Partition{{File: big}}, TableType: TableMBR}, []string{"MBR", "partition-type=gpt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.opts)
			if err == nil {
				p.Cleanup(context.Background())
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(w)) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}

	// Automatic choice: a 2 TiB file needs GPT.
	p := newPlugin(t, Options{Partitions: []Partition{{File: big}}})
	if p.TableType() != TableGPT {
		t.Errorf("a 2 TiB file got a %s table, want gpt", p.TableType())
	}
}
