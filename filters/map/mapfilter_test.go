package mapfilter_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	mapfilter "github.com/gonbd/gonbd/filters/map"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestParseMapping(t *testing.T) {
	for s, want := range map[string]mapfilter.Mapping{
		"0,1M 1M":            {Start: 0, Length: 1 << 20, Dest: 1 << 20},
		"1M-2097151 0":       {Start: 1 << 20, Length: 1 << 20, Dest: 0},
		"4M- 8M":             {Start: 4 << 20, Length: mapfilter.ToEnd, Dest: 8 << 20},
		"0x10-0x1f\t0x100":   {Start: 16, Length: 16, Dest: 256},
		"0-511:1048576":      {Start: 0, Length: 512, Dest: 1 << 20},
		"2s,1s:0":            {Start: 1024, Length: 512, Dest: 0},
		"  7,1   9  ":        {Start: 7, Length: 1, Dest: 9},
		"5-5 0":              {Start: 5, Length: 1, Dest: 0},
		"100,0 0":            {Start: 100, Length: 0, Dest: 0},
		"010-019 0":          {Start: 10, Length: 10, Dest: 0}, // sizes are decimal
		"0-0x7fffffff 0x100": {Start: 0, Length: 1 << 31, Dest: 256},
	} {
		got, err := mapfilter.ParseMapping(s)
		if err != nil || got != want {
			t.Errorf("ParseMapping(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{
		"", "0,1M", "0,1M 1M 2M", "0 1M", "a,b c", "10-5 0", "0-1M:", "-5 0", "0,-1 0",
		"0,1Q 0", "0-9223372036854775807 0", "1,9223372036854775807 0", "0,8E 1E",
	} {
		if m, err := mapfilter.ParseMapping(s); err == nil {
			t.Errorf("ParseMapping(%q) = %+v, want an error", s, m)
		}
	}
}

func TestReadMappings(t *testing.T) {
	file := "# swap\n\n0,1M 1M   # first\n  1M-2097151 0\n#4M- 0\n"
	maps, err := mapfilter.ReadMappings(strings.NewReader(file), "swap.map")
	if err != nil {
		t.Fatal(err)
	}
	want := []mapfilter.Mapping{
		{Start: 0, Length: 1 << 20, Dest: 1 << 20, Source: "swap.map:3"},
		{Start: 1 << 20, Length: 1 << 20, Dest: 0, Source: "swap.map:4"},
	}
	if fmt.Sprint(maps) != fmt.Sprint(want) || maps[0].Source != want[0].Source || maps[1].Source != want[1].Source {
		t.Errorf("ReadMappings = %+v, want %+v", maps, want)
	}
	_, err = mapfilter.ReadMappings(strings.NewReader("0,1 2\n0,1 two\n"), "bad.map")
	if err == nil || !strings.HasPrefix(err.Error(), "bad.map:2: ") {
		t.Errorf("a bad line: %v, want an error naming bad.map:2", err)
	}
}

func TestParseParam(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "x.map")
	if err := os.WriteFile(file, []byte("0,512 4096\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if m, err := mapfilter.ParseParam(file); err != nil || len(m) != 1 || m[0].Dest != 4096 {
		t.Errorf("ParseParam(file) = %+v, %v", m, err)
	}
	if m, err := mapfilter.ParseParam("0-511:4k"); err != nil || len(m) != 1 || m[0].Length != 512 || m[0].Dest != 4096 {
		t.Errorf("ParseParam(inline) = %+v, %v", m, err)
	}
	if _, err := mapfilter.ParseParam(filepath.Join(dir, "missing.map")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ParseParam(missing file) = %v", err)
	}
	if _, err := mapfilter.ParseParam(""); err == nil {
		t.Error("ParseParam(\"\") succeeded")
	}
}

// blockSizer gives the layer behind a minimum block size.
type blockSizer struct {
	server.PassThrough
	min uint32
}

func (b *blockSizer) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := b.Next.Open(ctx, req)
	return &blockSizerHandle{server.PassThroughHandle{Next: h}, b.min}, err
}

type blockSizerHandle struct {
	server.PassThroughHandle
	min uint32
}

func (h *blockSizerHandle) BlockSize(context.Context) (server.BlockSize, error) {
	return server.BlockSize{Minimum: h.min, Preferred: 4096, Maximum: 1 << 20}, nil
}

func open(layer server.Layer) (server.LayerHandle, error) {
	ctx := context.Background()
	h, err := layer.Open(ctx, server.OpenRequest{})
	if err != nil {
		return nil, err
	}
	return h, h.Prepare(ctx, false)
}

func TestMappingsMustFit(t *testing.T) {
	d := servertest.NewDisk(64 << 10)
	for _, tc := range []struct {
		maps []string
		want string
	}{
		{[]string{"0,4k 60k"}, ""},
		{[]string{"0,4k 61k"}, "goes past the end of the plugin"},
		{[]string{"62k,4k 0"}, "goes past the end of the export"},
		{[]string{"60k- 0"}, ""},
		{[]string{"65536- 0"}, ""}, // empty
		{[]string{"1k- 0"}, ""},
		{[]string{"1k- 2k"}, "goes past the end of the plugin"},
	} {
		var maps []mapfilter.Mapping
		for _, s := range tc.maps {
			m, err := mapfilter.ParseMapping(s)
			if err != nil {
				t.Fatal(err)
			}
			m.Source = "test"
			maps = append(maps, m)
		}
		_, err := open(mapfilter.New(d.Layer(), maps))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.maps, err)
		case tc.want != "" && (!errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "test")):
			t.Errorf("%q: error %v, want EINVAL naming the source and %q", tc.maps, err, tc.want)
		}
	}
	aligned := &blockSizer{server.PassThrough{Next: d.Layer()}, 512}
	if _, err := open(mapfilter.New(aligned, []mapfilter.Mapping{{Start: 512, Length: 1024, Dest: 4096}})); err != nil {
		t.Errorf("an aligned mapping: %v", err)
	}
	_, err := open(mapfilter.New(aligned, []mapfilter.Mapping{{Start: 512, Length: 1000, Dest: 4096}}))
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "aligned to 512 bytes") {
		t.Errorf("a misaligned mapping: %v", err)
	}
}

// model is the reference: export byte i lives at plugin byte where[i].
type model struct{ where []int64 }

func newModel(size int64, maps []mapfilter.Mapping) model {
	m := model{where: make([]int64, size)}
	for i := range m.where {
		m.where[i] = int64(i)
	}
	for _, mp := range maps {
		n := mp.Length
		if n == mapfilter.ToEnd {
			n = size - mp.Start
		}
		for i := int64(0); i < n; i++ {
			m.where[mp.Start+i] = mp.Dest + i
		}
	}
	return m
}

func TestAgainstModel(t *testing.T) {
	const size = 256 << 10
	rnd := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	for round := range 20 {
		var maps []mapfilter.Mapping
		for range 1 + rnd.IntN(6) {
			start := rnd.Int64N(size)
			n := 1 + rnd.Int64N(min(size-start, 64<<10))
			maps = append(maps, mapfilter.Mapping{Start: start, Length: n, Dest: rnd.Int64N(size - n + 1)})
		}
		if round%5 == 0 {
			start := rnd.Int64N(size / 2)
			maps = append(maps, mapfilter.Mapping{Start: start, Length: mapfilter.ToEnd, Dest: rnd.Int64N(start + 1)})
		}
		m := newModel(size, maps)
		d := servertest.NewDisk(size)
		h, err := open(mapfilter.New(d.Layer(), maps))
		if err != nil {
			t.Fatalf("%+v: %v", maps, err)
		}
		plugin := make([]byte, size)
		for op := range 200 {
			off := rnd.Int64N(size)
			n := 1 + rnd.Int64N(min(size-off, 32<<10))
			switch op % 4 {
			case 0, 1:
				p := make([]byte, n)
				for i := range p {
					p[i] = byte(rnd.IntN(255) + 1)
				}
				if err := h.WriteAt(ctx, p, off, 0); err != nil {
					t.Fatal(err)
				}
				for i := range p {
					plugin[m.where[off+int64(i)]] = p[i]
				}
			case 2:
				if err := h.Zero(ctx, off, n, server.FlagMayTrim); err != nil {
					t.Fatal(err)
				}
				for i := int64(0); i < n; i++ {
					plugin[m.where[off+i]] = 0
				}
			case 3:
				p := make([]byte, n)
				if err := h.ReadAt(ctx, p, off, 0); err != nil {
					t.Fatal(err)
				}
				for i := range p {
					if want := plugin[m.where[off+int64(i)]]; p[i] != want {
						t.Fatalf("round %d, maps %+v: read at %d: byte %d is %d, want %d", round, maps, off, i, p[i], want)
					}
				}
			}
		}
		if !bytes.Equal(d.Bytes(), plugin) {
			t.Fatalf("round %d: the plugin's bytes differ from the model's", round)
		}
	}
}

func TestExtents(t *testing.T) {
	const size = 64 << 10
	ctx := context.Background()
	d := servertest.NewDisk(size)
	d.SetBytes([]byte{1}, 40<<10)                                            // allocates the block at 40 KiB
	maps := []mapfilter.Mapping{{Start: 0, Length: 8 << 10, Dest: 36 << 10}} // [0,8k) shows [36k,44k)
	h, err := open(mapfilter.New(d.Layer(), maps))
	if err != nil {
		t.Fatal(err)
	}
	hole := server.ExtentHole | server.ExtentZero
	e := server.NewExtentList(0, size)
	if err := h.Extents(ctx, 0, size, 0, e); err != nil {
		t.Fatal(err)
	}
	want := []server.Extent{
		{Offset: 0, Length: 4 << 10, Type: hole},
		{Offset: 4 << 10, Length: 4 << 10, Type: server.ExtentData},
		{Offset: 8 << 10, Length: 32 << 10, Type: hole},
		{Offset: 40 << 10, Length: 4 << 10, Type: server.ExtentData},
		{Offset: 44 << 10, Length: 20 << 10, Type: hole},
	}
	if got := e.Extents(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("extents %v\nwant %v", got, want)
	}
	e.Reset(2048, size)
	if err := h.Extents(ctx, 2048, size-2048, server.FlagReqOne, e); err != nil {
		t.Fatal(err)
	}
	if got := e.Extents(); len(got) == 0 || got[0] != (server.Extent{Offset: 2048, Length: 2048, Type: hole}) {
		t.Errorf("extents with one wanted: %v", got)
	}
}

func TestBadParameters(t *testing.T) {
	d := servertest.NewDisk(4096)
	missing := filepath.Join(t.TempDir(), "missing.map")
	for _, tc := range []struct{ params, want []string }{
		{nil, []string{"missing required parameter map"}},
		{[]string{"map=" + missing}, []string{"map=" + missing, "no such file"}},
		{[]string{"map=0-1x:0"}, []string{"map=0-1x:0", "end"}},
		{[]string{"map=9-3:0"}, []string{"map=9-3:0", "the end is before the start"}},
	} {
		_, err := servertest.Stack(d.Spec(), []server.FilterSpec{mapfilter.Spec()}, tc.params...)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %v, want one containing %q", tc.params, err, w)
			}
		}
	}
	if layer, err := servertest.Stack(d.Spec(), []server.FilterSpec{mapfilter.Spec()}, "map=0-511:512"); err != nil || layer.Name() != "map" {
		t.Errorf("a good stack: %v", err)
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh")
	const half = 512 << 10
	dir := t.TempDir()
	file := filepath.Join(dir, "swap.map")
	if err := os.WriteFile(file, []byte("# swap the halves\n0,512k 512k\n512k- 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := servertest.NewDisk(2 * half)
	d.SetBytes(bytes.Repeat([]byte{0xaa}, half), 0)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{mapfilter.Spec()}, "map="+file, "map=1000-1999:0")
	// The export: [0,1000) and [2000,512k) show the plugin's second half, [1000,2000)
	// its first bytes, and [512k,1M) its first half.
	servertest.QemuIO(t, s.URI(), "read -P 0 0 1000", "read -P 0xaa 1000 1000", "read -P 0 2000 4000",
		"read -P 0xaa 512k 512k", "write -P 0x55 0 4k")
	servertest.Nbdsh(t, s.URI(),
		"assert h.get_size() == 1 << 20",
		"assert h.pread(4096, 0) == b'\\x55' * 4096",
		"e = []",
		"h.block_status(1 << 20, 0, lambda c, o, ents, err: e.extend(ents))",
		// Data where the write landed, and from the plugin's first bytes, a hole up to
		// the export's second half, which shows the plugin's data-filled first half.
		"assert e == [4096, 0, 520192, 3, 524288, 0], e",
	)
	got := d.Bytes()
	if !bytes.Equal(got[half:half+1000], bytes.Repeat([]byte{0x55}, 1000)) || !bytes.Equal(got[half+2000:half+4096], bytes.Repeat([]byte{0x55}, 2096)) {
		t.Error("the write did not land in the plugin's second half")
	}
	if !bytes.Equal(got[:1000], bytes.Repeat([]byte{0x55}, 1000)) || got[1000] != 0xaa {
		t.Error("the write to [1000,2000) did not land at the plugin's start")
	}
}

func TestEmptyExport(t *testing.T) {
	h, err := open(mapfilter.New(servertest.NewDisk(0).Layer(), []mapfilter.Mapping{{Start: 0, Length: mapfilter.ToEnd, Dest: 0}}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := h.ReadAt(ctx, nil, 0, 0); err != nil {
		t.Errorf("an empty read of an empty export: %v", err)
	}
	if err := h.WriteAt(ctx, nil, 0, 0); err != nil {
		t.Errorf("an empty write to an empty export: %v", err)
	}
}
