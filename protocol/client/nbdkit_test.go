package client_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"slices"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/protocol/client"
)

const (
	kiB = 1 << 10
	miB = 1 << 20
	giB = 1 << 30
)

func TestNbdkitNegotiatesStructuredRepliesAndMetaContexts(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	c := dial(t, ctx, nbdkit(t, "memory", "64M"), nil)

	if got := c.Size(); got != 64*miB {
		t.Errorf("Size() = %d, want %d", got, 64*miB)
	}
	if !c.StructuredReplies() {
		t.Error("StructuredReplies() = false; nbdkit supports them")
	}
	if c.ExtendedHeaders() {
		t.Error("ExtendedHeaders() = true; nbdkit 1.32 does not support them")
	}
	if _, ok := c.MetaContexts()[protocol.MetaContextBaseAllocation]; !ok {
		t.Errorf("MetaContexts() = %v, want base:allocation", c.MetaContexts())
	}
	for _, f := range []protocol.TransmissionFlags{protocol.FlagHasFlags, protocol.FlagSendFlush,
		protocol.FlagSendTrim, protocol.FlagSendWriteZeroes, protocol.FlagSendFUA} {
		if c.Flags()&f == 0 {
			t.Errorf("Flags() = %#x lacks %#x", c.Flags(), f)
		}
	}
	if bs := c.BlockSize(); bs.Minimum == 0 || bs.Preferred < bs.Minimum || bs.Maximum < bs.Preferred {
		t.Errorf("BlockSize() = %+v, not a valid set of constraints", bs)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := c.ReadAt(ctx, make([]byte, 512), 0, 0); !errors.Is(err, client.ErrClosed) {
		t.Errorf("ReadAt after Close = %v, want ErrClosed", err)
	}
}

func TestNbdkitReadWriteRoundTrip(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	c := dial(t, ctx, nbdkit(t, "memory", "64M"), nil)

	for _, tc := range []struct {
		off   uint64
		size  int
		flags protocol.CmdFlags
	}{
		{0, 512, 0},
		{4096, 64 * kiB, protocol.CmdFlagFUA},
		{3*miB + 17, 1*miB + 3, 0}, // unaligned; nbdkit allows a minimum block size of 1
		{64*miB - 4096, 4096, 0},   // the last block
		{10 * miB, 8 * miB, 0},     // larger than the read buffer: straight into p
	} {
		data := randomBytes(t, tc.size)
		if err := c.WriteAt(ctx, data, tc.off, tc.flags); err != nil {
			t.Fatalf("WriteAt(%d bytes at %d): %v", tc.size, tc.off, err)
		}
		got := make([]byte, tc.size)
		if err := c.ReadAt(ctx, got, tc.off, 0); err != nil {
			t.Fatalf("ReadAt(%d bytes at %d): %v", tc.size, tc.off, err)
		}
		if sha256.Sum256(got) != sha256.Sum256(data) {
			t.Errorf("read back %d bytes at %d differ from those written", tc.size, tc.off)
		}
	}
}

func TestNbdkitFlushTrimZeroCache(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	c := dial(t, ctx, nbdkit(t, "memory", "64M"), nil)

	const off, size = 1 * miB, 256 * kiB
	fill := func() {
		t.Helper()
		if err := c.WriteAt(ctx, bytes.Repeat([]byte{0xAB}, size), off, 0); err != nil {
			t.Fatalf("WriteAt: %v", err)
		}
	}
	expectZeroes := func(what string) {
		t.Helper()
		got := make([]byte, size)
		if err := c.ReadAt(ctx, got, off, 0); err != nil {
			t.Fatalf("ReadAt after %s: %v", what, err)
		}
		if !isZero(got) {
			t.Errorf("data after %s is not all zero", what)
		}
	}

	if err := c.Flush(ctx, 0); err != nil {
		t.Errorf("Flush: %v", err)
	}

	fill()
	if err := c.Trim(ctx, off, size, 0); err != nil {
		t.Fatalf("Trim: %v", err)
	}
	expectZeroes("Trim") // the memory plugin frees trimmed pages

	fill()
	if err := c.Zero(ctx, off, size, protocol.CmdFlagNoHole); err != nil {
		t.Fatalf("Zero with NO_HOLE: %v", err)
	}
	expectZeroes("Zero with NO_HOLE")

	fill()
	err := c.Zero(ctx, off, size, protocol.CmdFlagFastZero)
	switch {
	case c.Flags()&protocol.FlagSendFastZero == 0:
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Zero with FAST_ZERO, not advertised: %v, want errors.ErrUnsupported", err)
		}
	case errors.Is(err, syscall.ENOTSUP):
		// Allowed: the server cannot zero faster than it writes.
	case err != nil:
		t.Errorf("Zero with FAST_ZERO: %v, want success or ENOTSUP", err)
	default:
		expectZeroes("Zero with FAST_ZERO")
	}

	err = c.Cache(ctx, 0, miB, 0)
	if c.Flags()&protocol.FlagSendCache == 0 {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Cache without FlagSendCache: %v, want errors.ErrUnsupported", err)
		}
	} else if err != nil {
		t.Errorf("Cache: %v", err)
	}
}

func TestNbdkitCacheAdvertised(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	// The cache filter makes nbdkit advertise NBD_FLAG_SEND_CACHE.
	c := dial(t, ctx, nbdkit(t, "--filter=cache", "memory", "64M"), nil)
	if c.Flags()&protocol.FlagSendCache == 0 {
		t.Fatalf("Flags() = %#x: no FlagSendCache with the cache filter", c.Flags())
	}
	if err := c.Cache(ctx, 0, 4*miB, 0); err != nil {
		t.Errorf("Cache: %v", err)
	}
}

// extent is a run of bytes with one status, merged from descriptors.
type extent struct {
	Offset, Length uint64
	Flags          uint64
}

// allocationMap collects the base:allocation status of [0, size), asking again where a
// reply stops short, and merges neighbouring descriptors of equal status.
func allocationMap(t *testing.T, c *client.Conn, size uint64, flags protocol.CmdFlags) []extent {
	t.Helper()
	ctx := testContext(t)
	var m []extent
	for off := uint64(0); off < size; {
		length := size - off
		if !c.ExtendedHeaders() {
			length = min(length, 2*giB) // compact requests have 32-bit lengths
		}
		var got uint64
		err := c.BlockStatus(ctx, off, length, flags, func(name string, ds []protocol.BlockDescriptor) error {
			if name != protocol.MetaContextBaseAllocation {
				t.Errorf("status for context %q", name)
			}
			if flags&protocol.CmdFlagReqOne != 0 && len(ds) != 1 {
				t.Errorf("REQ_ONE answered with %d descriptors", len(ds))
			}
			for _, d := range ds {
				d.Length = min(d.Length, size-off-got)
				if n := len(m); n > 0 && m[n-1].Flags == d.Flags {
					m[n-1].Length += d.Length
				} else {
					m = append(m, extent{off + got, d.Length, d.Flags})
				}
				if got += d.Length; off+got == size {
					break
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("BlockStatus(%d, %d): %v", off, length, err)
		}
		if got == 0 {
			t.Fatalf("BlockStatus(%d, %d) made no progress", off, length)
		}
		off += got
	}
	return m
}

const hole = uint64(protocol.StateHole | protocol.StateZero)

func TestNbdkitBlockStatusOfSparseExport(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	c := dial(t, ctx, nbdkit(t, "memory", "64M"), nil)

	if err := c.WriteAt(ctx, randomBytes(t, 2*miB), 4*miB, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteAt(ctx, randomBytes(t, 1*miB), 32*miB, 0); err != nil {
		t.Fatal(err)
	}
	want := []extent{
		{0, 4 * miB, hole},
		{4 * miB, 2 * miB, 0},
		{6 * miB, 26 * miB, hole},
		{32 * miB, 1 * miB, 0},
		{33 * miB, 31 * miB, hole},
	}
	for _, flags := range []protocol.CmdFlags{0, protocol.CmdFlagReqOne} {
		if got := allocationMap(t, c, c.Size(), flags); !slices.Equal(got, want) {
			t.Errorf("allocation map with flags %#x:\n got %+v\nwant %+v", flags, got, want)
		}
	}

	// A sparse read: the holes come back as zeroes among the data.
	data := make([]byte, 8*miB)
	for i := range data {
		data[i] = 0xFF
	}
	if err := c.ReadAt(ctx, data, 2*miB, 0); err != nil {
		t.Fatal(err)
	}
	if !isZero(data[:2*miB]) || !isZero(data[4*miB:]) {
		t.Error("holes around the data do not read as zeroes")
	}
}

func TestNbdkitServerErrors(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	c := dial(t, ctx, nbdkit(t, "memory", "64M"), nil)
	end := c.Size()

	for _, tc := range []struct {
		name string
		op   func() error
		want syscall.Errno
	}{
		{"read past the end", func() error { return c.ReadAt(ctx, make([]byte, 4096), end, 0) }, syscall.EINVAL},
		{"write past the end", func() error { return c.WriteAt(ctx, make([]byte, 4096), end-512, 0) }, syscall.ENOSPC},
		{"zero past the end", func() error { return c.Zero(ctx, end, 4096, 0) }, syscall.ENOSPC},
		{"trim past the end", func() error { return c.Trim(ctx, end, 4096, 0) }, syscall.EINVAL},
		{"block status past the end", func() error {
			return c.BlockStatus(ctx, end, 4096, 0, func(string, []protocol.BlockDescriptor) error { return nil })
		}, syscall.EINVAL},
	} {
		err := tc.op()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		var se *client.ServerError
		if !errors.As(err, &se) {
			t.Errorf("%s: %T is not a *client.ServerError", tc.name, err)
		}
	}
	// The connection survives errors.
	if err := c.ReadAt(ctx, make([]byte, 4096), 0, 0); err != nil {
		t.Errorf("ReadAt after errors: %v", err)
	}
}

func TestNbdkitSimpleReplies(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	for _, tc := range []struct {
		name string
		args []string
		opts *client.Options
	}{
		{"server without structured replies", []string{"--no-sr", "memory", "64M"}, nil},
		{"client without structured replies", []string{"memory", "64M"}, &client.Options{DisableStructuredReplies: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, ctx, nbdkit(t, tc.args...), tc.opts)
			if c.StructuredReplies() || c.ExtendedHeaders() || len(c.MetaContexts()) != 0 {
				t.Errorf("structured %v, extended %v, contexts %v; want none", c.StructuredReplies(), c.ExtendedHeaders(), c.MetaContexts())
			}
			roundTrip(t, c, 5*miB+512, 256*kiB)
			if err := c.ReadAt(ctx, make([]byte, 512), c.Size(), 0); !errors.Is(err, syscall.EINVAL) {
				t.Errorf("read past the end: %v, want EINVAL", err)
			}
			roundTrip(t, c, 0, 4096) // simple error replies carry no data: still in step
			err := c.BlockStatus(ctx, 0, 4096, 0, func(string, []protocol.BlockDescriptor) error { return nil })
			if !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("BlockStatus without meta contexts: %v, want errors.ErrUnsupported", err)
			}
		})
	}
}

func TestNbdkitOldstyle(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	s := nbdkit(t, "-o", "memory", "16M")

	c := dial(t, ctx, s, nil)
	if c.Size() != 16*miB {
		t.Errorf("Size() = %d, want %d", c.Size(), 16*miB)
	}
	if c.StructuredReplies() {
		t.Error("structured replies over an oldstyle handshake")
	}
	roundTrip(t, c, 1*miB, 64*kiB)

	_, err := client.List(ctx, "unix", s.socket, nil)
	if err == nil {
		t.Error("List on an oldstyle server succeeded")
	}
}

func TestNbdkitListInfoAndExportNames(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	s := nbdkit(t, "--filter=exportname", "memory", "32M",
		"exportname=alpha", "exportname=beta", "exportname-list=explicit", "exportdesc=fixed:a test disk")

	exports, err := client.List(ctx, "unix", s.socket, nil)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	want := []client.Export{{"alpha", "a test disk"}, {"beta", "a test disk"}}
	if !slices.Equal(exports, want) {
		t.Errorf("List = %+v, want %+v", exports, want)
	}

	c := dial(t, ctx, s, &client.Options{ExportName: "beta"})
	if c.ExportName() != "beta" || c.Description() != "a test disk" || c.Size() != 32*miB {
		t.Errorf("export %q, description %q, size %d; want beta, a test disk, 32M", c.ExportName(), c.Description(), c.Size())
	}
}

func TestNegotiatorInfoListMetaContextsThenGo(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	s := nbdkit(t, "memory", "8M")

	nc := dialRaw(t, s)
	n, err := client.Handshake(ctx, nc, nil)
	if err != nil {
		t.Fatalf("Handshake: %v", err)
	}
	info, err := n.Info(ctx, "")
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Size != 8*miB || info.Flags&protocol.FlagHasFlags == 0 {
		t.Errorf("Info = %+v, want an 8M export with flags", info)
	}
	contexts, err := n.ListMetaContexts(ctx, "", "base:")
	if err != nil {
		t.Fatalf("ListMetaContexts: %v", err)
	}
	if !slices.Contains(contexts, protocol.MetaContextBaseAllocation) {
		t.Errorf("ListMetaContexts = %q, want base:allocation among them", contexts)
	}
	c, err := n.Go(ctx, "")
	if err != nil {
		t.Fatalf("Go: %v", err)
	}
	defer c.Close()
	if c.Info() != *info {
		t.Errorf("Go gave %+v, Info gave %+v", c.Info(), *info)
	}
	roundTrip(t, c, 0, 4096)
	if _, err := n.List(ctx); err == nil {
		t.Error("List after Go succeeded")
	}
}

func TestNegotiatorAbort(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	n, err := client.Handshake(ctx, dialRaw(t, nbdkit(t, "memory", "8M")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Abort(); err != nil {
		t.Errorf("Abort: %v", err)
	}
	if _, err := n.Go(ctx, ""); err == nil {
		t.Error("Go after Abort succeeded")
	}
}

func TestUnknownExport(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	s := nbdkit(t, "--filter=exportname", "memory", "8M", "exportname=only", "exportname-strict=true")

	_, err := client.Dial(ctx, "unix", s.socket, &client.Options{ExportName: "missing"})
	var oe *client.OptionError
	if !errors.As(err, &oe) || oe.Option != protocol.OptGo || !oe.Reply.IsError() {
		t.Fatalf("Dial to an unknown export: %v, want an *OptionError for NBD_OPT_GO", err)
	}

	// The negotiation goes on after the refusal.
	n, err := client.Handshake(ctx, dialRaw(t, s), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Go(ctx, "missing"); !errors.As(err, &oe) {
		t.Fatalf("Go(missing): %v, want an *OptionError", err)
	}
	c, err := n.Go(ctx, "only")
	if err != nil {
		t.Fatalf("Go(only) after a refusal: %v", err)
	}
	defer c.Close()
	roundTrip(t, c, 0, 512)
}

func TestDialURI(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	s := nbdkit(t, "--filter=exportname", "memory", "8M", "exportname=a disk", "exportname-strict=true")

	u := (&client.URI{Scheme: "nbd+unix", Export: "a disk", Socket: s.socket}).String()
	c, err := client.DialURI(ctx, u, nil)
	if err != nil {
		t.Fatalf("DialURI(%q): %v", u, err)
	}
	defer c.Close()
	if c.ExportName() != "a disk" {
		t.Errorf("ExportName() = %q, want %q", c.ExportName(), "a disk")
	}

	_, err = client.DialURI(ctx, "nbds+unix:///?socket="+s.socket, nil)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("TLSConfig")) {
		t.Errorf("DialURI of an nbds+unix URI without TLSConfig: %v, want an error naming TLSConfig", err)
	}
}

func TestTLSRequiredButRefused(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	s := nbdkit(t, "memory", "8M") // no TLS configured: STARTTLS is refused
	_, err := client.Dial(ctx, "unix", s.socket, &client.Options{TLSConfig: insecureTLS()})
	var oe *client.OptionError
	if !errors.As(err, &oe) || oe.Option != protocol.OptStartTLS {
		t.Errorf("Dial with TLS to a server without: %v, want an *OptionError for NBD_OPT_STARTTLS", err)
	}
}

// roundTrip writes random data at off and checks that it reads back.
func roundTrip(t *testing.T, c *client.Conn, off uint64, size int) {
	t.Helper()
	ctx := testContext(t)
	data := randomBytes(t, size)
	if err := c.WriteAt(ctx, data, off, 0); err != nil {
		t.Fatalf("WriteAt(%d bytes at %d): %v", size, off, err)
	}
	got := make([]byte, size)
	if err := c.ReadAt(ctx, got, off, 0); err != nil {
		t.Fatalf("ReadAt(%d bytes at %d): %v", size, off, err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("%d bytes at %d read back differ from those written", size, off)
	}
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
