package server_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

func TestSimpleReplies(t *testing.T) {
	d := newTestDisk(1 << 20)
	path := startServer(t, d.layer(), server.Options{})
	c := negotiate(t, path, negotiation{})
	data := pattern(8192, 3)
	for _, r := range []protocol.Request{
		{Type: protocol.CmdWrite, Offset: 4096, Length: 8192, Flags: protocol.CmdFlagFUA},
		{Type: protocol.CmdFlush},
		{Type: protocol.CmdWriteZeroes, Offset: 8192, Length: 1024},
		{Type: protocol.CmdTrim, Offset: 0, Length: 4096},
		{Type: protocol.CmdCache, Offset: 0, Length: 4096},
	} {
		var payload []byte
		if r.Type == protocol.CmdWrite {
			payload = data
		}
		if rep := c.do(r, payload); rep.magic != protocol.SimpleReplyMagic || rep.errno != 0 {
			t.Fatalf("%v: magic %#x %s", r.Type, rep.magic, errnoOf(rep))
		}
	}
	rep := c.do(protocol.Request{Type: protocol.CmdRead, Offset: 4096, Length: 128 << 10}, nil)
	want := append(append(append([]byte{}, data[:4096]...), make([]byte, 1024)...), data[5120:]...)
	if rep.magic != protocol.SimpleReplyMagic || !bytes.Equal(rep.data[:8192], want) || !bytes.Equal(rep.data[8192:], make([]byte, 120<<10)) {
		t.Fatalf("simple read returned other data")
	}
	// A failed read sends an error and no data: the next reply is in step.
	d.failOp.Store("read")
	if rep := c.do(protocol.Request{Type: protocol.CmdRead, Length: 4096}, nil); rep.errno != protocol.EIO || rep.data != nil {
		t.Fatalf("failed read: %s", errnoOf(rep))
	}
	if rep := c.do(protocol.Request{Type: protocol.CmdFlush}, nil); rep.errno != 0 {
		t.Fatalf("flush after a failed read: %s", errnoOf(rep))
	}
}

func TestStructuredReads(t *testing.T) {
	d := newTestDisk(4 << 20)
	// Data at [0, 8K), [64K, 68K) and [200K, 204K); holes elsewhere.
	d.write(pattern(8192, 1), 0)
	d.write(pattern(4096, 2), 64<<10)
	d.write(pattern(4096, 3), 200<<10)
	path := startServer(t, d.layer(), server.Options{})
	for _, n := range []negotiation{{structured: true}, {extended: true}} {
		c := negotiate(t, path, n)
		check := func(name string, r protocol.Request) reply {
			t.Helper()
			rep := c.do(r, nil)
			if got := c.readData(rep, r.Offset, r.Length); !bytes.Equal(got, d.contents(int64(r.Offset), int64(r.Length))) {
				t.Fatalf("%s (extended=%v): wrong data", name, n.extended)
			}
			for i, ch := range rep.chunks {
				if last := i == len(rep.chunks)-1; last != (ch.flags&protocol.ReplyFlagDone != 0) {
					t.Fatalf("%s: chunk %d of %d has flags %#x", name, i, len(rep.chunks), ch.flags)
				}
				if n.extended && ch.offset != r.Offset {
					t.Fatalf("%s: extended chunk header offset %d, want the request's %d", name, ch.offset, r.Offset)
				}
			}
			return rep
		}
		types := func(rep reply) (s []string) {
			for _, ch := range rep.chunks {
				s = append(s, ch.typ.String())
			}
			return s
		}

		// Small reads are one data chunk.
		if rep := check("small read", protocol.Request{Type: protocol.CmdRead, Offset: 4096, Length: 16 << 10}); len(rep.chunks) != 1 || rep.chunks[0].typ != protocol.ReplyTypeOffsetData {
			t.Errorf("small read: chunks %v", types(rep))
		}
		// Large reads over holes are split.
		rep := check("sparse read", protocol.Request{Type: protocol.CmdRead, Offset: 0, Length: 256 << 10})
		var holes, datas int
		for _, ch := range rep.chunks {
			switch ch.typ {
			case protocol.ReplyTypeOffsetHole:
				holes++
			case protocol.ReplyTypeOffsetData:
				datas++
			}
		}
		if holes != 3 || datas != 3 {
			t.Errorf("sparse read: chunks %v, want 3 data and 3 holes", types(rep))
		}
		// An all-hole read is one hole chunk.
		if rep := check("hole read", protocol.Request{Type: protocol.CmdRead, Offset: 1 << 20, Length: 1 << 20}); len(rep.chunks) != 1 || rep.chunks[0].typ != protocol.ReplyTypeOffsetHole {
			t.Errorf("hole read: chunks %v", types(rep))
		}
		// DF: one data chunk.
		if rep := check("DF read", protocol.Request{Type: protocol.CmdRead, Flags: protocol.CmdFlagDF, Offset: 0, Length: 256 << 10}); len(rep.chunks) != 1 || rep.chunks[0].typ != protocol.ReplyTypeOffsetData {
			t.Errorf("DF read: chunks %v", types(rep))
		}
	}
}

func TestReadErrors(t *testing.T) {
	for _, op := range []string{"read", "extents"} {
		d := newTestDisk(4 << 20)
		d.write(pattern(4096, 1), 0)
		d.failOp.Store(op)
		path := startServer(t, d.layer(), server.Options{})
		for _, n := range []negotiation{{structured: true}, {extended: true}} {
			c := negotiate(t, path, n)
			for _, length := range []uint64{4096, 1 << 20} {
				if op == "extents" && length < 64<<10 {
					continue // small reads do not ask for extents
				}
				rep := c.do(protocol.Request{Type: protocol.CmdRead, Offset: 0, Length: length}, nil)
				if op == "extents" {
					// The extents only shape the reply: the read succeeds as one data chunk.
					if rep.errno != 0 || len(rep.chunks) != 1 || rep.chunks[0].typ != protocol.ReplyTypeOffsetData {
						t.Fatalf("extents failing, read of %d (extended=%v): %s, %d chunks", length, n.extended, errnoOf(rep), len(rep.chunks))
					}
					if got := c.readData(rep, 0, length); !bytes.Equal(got[:4096], pattern(4096, 1)) {
						t.Errorf("extents failing: the read returned other data")
					}
					continue
				}
				if rep.errno != protocol.EIO || len(rep.chunks) != 1 || !rep.chunks[0].typ.IsError() {
					t.Fatalf("%s failing, read of %d (extended=%v): %s, %d chunks", op, length, n.extended, errnoOf(rep), len(rep.chunks))
				}
				if !strings.Contains(rep.message, "deliberate failure") {
					t.Errorf("error message %q does not say why", rep.message)
				}
			}
			if rep := c.do(protocol.Request{Type: protocol.CmdFlush}, nil); rep.errno != 0 {
				t.Fatalf("flush after failed reads: %s", errnoOf(rep))
			}
		}
	}
}

// TestExtendedReplies checks that after extended headers every reply, errors included,
// is an extended reply carrying the request's offset.
func TestExtendedReplies(t *testing.T) {
	d := newTestDisk(1 << 20)
	path := startServer(t, d.layer(), server.Options{})
	c := negotiate(t, path, negotiation{extended: true, meta: true})
	for _, r := range []protocol.Request{
		{Type: protocol.CmdWrite, Offset: 4096, Length: 512},
		{Type: protocol.CmdRead, Offset: 4096, Length: 512},
		{Type: protocol.CmdFlush},
		{Type: protocol.CmdTrim, Offset: 8192, Length: 4096},
		{Type: protocol.CmdWriteZeroes, Offset: 12288, Length: 4096},
		{Type: protocol.CmdCache, Offset: 12288, Length: 4096},
		{Type: protocol.CmdBlockStatus, Offset: 2048, Length: 8192},
		{Type: protocol.CmdRead, Offset: 1 << 30, Length: 512}, // an error
	} {
		var payload []byte
		if r.Type == protocol.CmdWrite {
			payload = pattern(512, 9)
		}
		rep := c.do(r, payload)
		if rep.magic != protocol.ExtendedReplyMagic {
			t.Fatalf("%v: reply magic %#x", r.Type, rep.magic)
		}
		for _, ch := range rep.chunks {
			if ch.offset != r.Offset {
				t.Errorf("%v at %d: reply offset %d", r.Type, r.Offset, ch.offset)
			}
		}
	}
}

func TestBlockStatus(t *testing.T) {
	const size = 1 << 20
	d := newTestDisk(size)
	d.write(pattern(8192, 1), 16<<10) // data [16K, 24K)
	path := startServer(t, d.layer(), server.Options{})
	hz := uint64(protocol.StateHole | protocol.StateZero)
	for _, n := range []negotiation{{structured: true, meta: true}, {extended: true, meta: true}} {
		c := negotiate(t, path, n)
		ds := c.blockStatus(c.do(protocol.Request{Type: protocol.CmdBlockStatus, Offset: 4096, Length: 64 << 10}, nil))
		want := []protocol.BlockDescriptor{{Length: 12 << 10, Flags: hz}, {Length: 8 << 10}, {Length: 44 << 10, Flags: hz}}
		if !equalDescriptors(ds, want) {
			t.Errorf("extended=%v: block status %+v, want %+v", n.extended, ds, want)
		}
		for _, off := range []uint64{0, 16 << 10, 20 << 10} {
			ds := c.blockStatus(c.do(protocol.Request{Type: protocol.CmdBlockStatus, Flags: protocol.CmdFlagReqOne, Offset: off, Length: 6 << 10}, nil))
			if len(ds) != 1 || ds[0].Length == 0 || ds[0].Length > 6<<10 {
				t.Errorf("REQ_ONE at %d: %+v, want one descriptor of at most the request's length", off, ds)
			}
		}
	}
}

func equalDescriptors(a, b []protocol.BlockDescriptor) bool {
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

// TestBlockStatusBounds checks that block status never describes bytes past the request
// or the export, even when the plugin reports extents beyond both (as in
// CVE-2025-47711 and CVE-2025-47712 of nbdkit), and that compact replies never
// truncate a length to 32 bits.
func TestBlockStatusBounds(t *testing.T) {
	const size = 8<<30 + 4096 // more than 4 GiB
	d := newTestDisk(size)
	d.extents = func(off, length int64, e *server.ExtentList) error {
		// Start before the range and run far past the export, in two types.
		if err := e.Add(0, off+length/2+1, server.ExtentData); err != nil {
			return err
		}
		return e.Add(off+length/2+1, 1<<62, server.ExtentHole|server.ExtentZero)
	}
	path := startServer(t, d.layer(), server.Options{})
	for _, n := range []negotiation{{structured: true, meta: true}, {extended: true, meta: true}} {
		c := negotiate(t, path, n)
		for _, r := range []protocol.Request{
			{Offset: size - 1, Length: 1},
			{Offset: size - 4096, Length: 4096},
			{Offset: 0, Length: math32},
			{Offset: size - math32, Length: math32},
			{Offset: 4<<30 - 1, Length: math32},
			{Offset: size - 1, Length: 1, Flags: protocol.CmdFlagReqOne},
			{Offset: 0, Length: math32, Flags: protocol.CmdFlagReqOne},
			{Offset: size - math32, Length: math32, Flags: protocol.CmdFlagReqOne},
		} {
			r.Type = protocol.CmdBlockStatus
			ds := c.blockStatus(c.do(r, nil))
			var total uint64
			for _, d := range ds {
				total += d.Length
			}
			if r.Flags&protocol.CmdFlagReqOne != 0 && len(ds) != 1 {
				t.Errorf("REQ_ONE %+v: %d descriptors", r, len(ds))
			}
			// The plugin reports data up to the middle of the request, then a hole.
			if total > r.Length || total > size-r.Offset || total == 0 {
				t.Errorf("extended=%v %+v: descriptors cover %d bytes: %+v", n.extended, r, total, ds)
			}
			if r.Flags&protocol.CmdFlagReqOne == 0 && total != r.Length {
				t.Errorf("extended=%v %+v: descriptors cover %d bytes, want all %d: %+v", n.extended, r, total, r.Length, ds)
			}
			if ds[0].Flags != 0 || ds[0].Length != r.Length/2+1 && r.Length > 1 {
				t.Errorf("extended=%v %+v: first descriptor %+v, want data of %d", n.extended, r, ds[0], r.Length/2+1)
			}
		}
	}
}

const math32 = 1<<32 - 1

// TestHugeExtendedRequests uses 64-bit lengths on a sparse 1 TiB export.
func TestHugeExtendedRequests(t *testing.T) {
	const size = 1 << 40
	d := newTestDisk(size)
	d.write(pattern(4096, 1), 6<<30)
	d.write(pattern(4096, 2), 1<<30)
	d.write(pattern(4096, 3), 9<<30)
	path := startServer(t, d.layer(), server.Options{})
	c := negotiate(t, path, negotiation{extended: true, meta: true})
	hz := uint64(protocol.StateHole | protocol.StateZero)

	ds := c.blockStatus(c.do(protocol.Request{Type: protocol.CmdBlockStatus, Offset: 2 << 30, Length: 6 << 30}, nil))
	want := []protocol.BlockDescriptor{{Length: 4 << 30, Flags: hz}, {Length: 4096}, {Length: 2<<30 - 4096, Flags: hz}}
	if !equalDescriptors(ds, want) {
		t.Fatalf("block status over 6 GiB: %+v, want %+v", ds, want)
	}

	if rep := c.do(protocol.Request{Type: protocol.CmdWriteZeroes, Offset: 0, Length: 6<<30 + 4096}, nil); rep.errno != 0 {
		t.Fatalf("zero of 6 GiB: %s", errnoOf(rep))
	}
	if rep := c.do(protocol.Request{Type: protocol.CmdTrim, Offset: 8 << 30, Length: 5 << 30}, nil); rep.errno != 0 {
		t.Fatalf("trim of 5 GiB: %s", errnoOf(rep))
	}
	d.mu.Lock()
	pages := len(d.pages)
	d.mu.Unlock()
	if pages != 0 {
		t.Fatalf("%d pages left after zero and trim", pages)
	}
	ds = c.blockStatus(c.do(protocol.Request{Type: protocol.CmdBlockStatus, Offset: 0, Length: size}, nil))
	if !equalDescriptors(ds, []protocol.BlockDescriptor{{Length: size, Flags: hz}}) {
		t.Fatalf("block status of the whole 1 TiB: %+v", ds)
	}
	// A 64-bit length reaches the plugin whole: one call each.
	if d.count("zero") != 1 || d.count("trim") != 1 {
		t.Errorf("zero called %d times and trim %d, want once each", d.count("zero"), d.count("trim"))
	}
}
