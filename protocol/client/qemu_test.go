package client_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/protocol/client"
)

// qemuNBD serves a new sparse raw file of the given size with qemu-nbd, which supports
// extended headers, as export "disk" with a description.
func qemuNBD(t *testing.T, size int64) *server {
	t.Helper()
	bin := findBinary(t, "qemu-nbd")
	file := filepath.Join(t.TempDir(), "disk.raw")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// -t: serve client after client; -e: several at once (List, then Dial).
	// --discard=unmap: trim punches holes (by default qemu-nbd ignores it).
	return startServer(t, bin, "-k", "SOCKET", "-f", "raw", "-t", "-e", "4", "--discard=unmap",
		"-x", "disk", "-D", "scratch disk", file)
}

func TestQemuNBDExtendedHeaders(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	s := qemuNBD(t, 64*miB)
	c := dial(t, ctx, s, &client.Options{ExportName: "disk"})

	if !c.ExtendedHeaders() || !c.StructuredReplies() {
		t.Fatalf("extended %v, structured %v; qemu-nbd 10 supports both", c.ExtendedHeaders(), c.StructuredReplies())
	}
	if c.Size() != 64*miB || c.ExportName() != "disk" || c.Description() != "scratch disk" {
		t.Errorf("size %d, name %q, description %q", c.Size(), c.ExportName(), c.Description())
	}
	if bs := c.BlockSize(); bs.Minimum < 1 || bs.Maximum < bs.Preferred {
		t.Errorf("BlockSize() = %+v", bs)
	}

	roundTrip(t, c, 0, 4096)
	roundTrip(t, c, 8*miB, 1*miB)
	if err := c.Flush(ctx, 0); err != nil {
		t.Errorf("Flush: %v", err)
	}
	if err := c.Cache(ctx, 0, 1*miB, 0); err != nil {
		t.Errorf("Cache: %v", err)
	}
	if err := c.WriteAt(ctx, randomBytes(t, 64*kiB), 16*miB, protocol.CmdFlagFUA); err != nil {
		t.Errorf("WriteAt with FUA: %v", err)
	}
	if err := c.Zero(ctx, 16*miB, 64*kiB, protocol.CmdFlagNoHole); err != nil {
		t.Errorf("Zero with NO_HOLE: %v", err)
	}
	got := randomBytes(t, 64*kiB)
	if err := c.ReadAt(ctx, got, 16*miB, 0); err != nil || !isZero(got) {
		t.Errorf("ReadAt after Zero with NO_HOLE: %v, zero %v", err, isZero(got))
	}
	// Whether the file system reports a zeroed-but-allocated range as a hole varies:
	// trim it, and the 1 MiB written earlier, to make holes for certain.
	for _, off := range []uint64{8 * miB, 16 * miB} {
		if err := c.Trim(ctx, off, 1*miB, 0); err != nil {
			t.Errorf("Trim: %v", err)
		}
	}

	// BLOCK_STATUS_EXT replies: data where written, holes elsewhere.
	m := allocationMap(t, c, c.Size(), 0)
	want := []extent{{0, 4096, 0}, {4096, 64*miB - 4096, hole}}
	if !slices.Equal(m, want) {
		t.Errorf("allocation map:\n got %+v\nwant %+v", m, want)
	}
	if got := allocationMap(t, c, c.Size(), protocol.CmdFlagReqOne); !slices.Equal(got, want) {
		t.Errorf("allocation map with REQ_ONE:\n got %+v\nwant %+v", got, want)
	}

	if err := c.ReadAt(ctx, make([]byte, 4096), c.Size(), 0); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("read past the end: %v, want EINVAL", err)
	}
}

func TestQemuNBDRequestsAbove4GiB(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	s := qemuNBD(t, 8*giB)
	c := dial(t, ctx, s, &client.Options{ExportName: "disk"})
	if !c.ExtendedHeaders() {
		t.Fatal("no extended headers")
	}
	data := randomBytes(t, 1*miB)
	if err := c.WriteAt(ctx, data, 6*giB, 0); err != nil {
		t.Fatal(err)
	}

	// One request, one 64-bit descriptor for the hole before the data.
	var first protocol.BlockDescriptor
	err := c.BlockStatus(ctx, 0, 7*giB, 0, func(_ string, ds []protocol.BlockDescriptor) error {
		first = ds[0]
		return nil
	})
	if err != nil {
		t.Fatalf("BlockStatus of 7 GiB: %v", err)
	}
	if first.Length != 6*giB || first.Flags != hole {
		t.Errorf("first descriptor %+v, want a hole of 6 GiB", first)
	}

	// A 5 GiB zero request covering the data.
	if err := c.Zero(ctx, 2*giB, 5*giB, 0); err != nil {
		t.Fatalf("Zero of 5 GiB: %v", err)
	}
	got := randomBytes(t, len(data))
	if err := c.ReadAt(ctx, got, 6*giB, 0); err != nil {
		t.Fatal(err)
	}
	if !isZero(got) {
		t.Error("data under a 5 GiB zero request is not zero")
	}

	// Without extended headers the client refuses such lengths itself.
	compact := dial(t, ctx, s, &client.Options{ExportName: "disk", DisableExtendedHeaders: true})
	if compact.ExtendedHeaders() || !compact.StructuredReplies() {
		t.Fatalf("DisableExtendedHeaders: extended %v, structured %v", compact.ExtendedHeaders(), compact.StructuredReplies())
	}
	err = compact.Zero(ctx, 0, 5*giB, 0)
	if err == nil || !strings.Contains(err.Error(), "extended headers") {
		t.Errorf("compact Zero of 5 GiB: %v, want a refusal naming extended headers", err)
	}
	// The compact connection still works: structured replies and 32-bit block status.
	if got := allocationMap(t, compact, 8*giB, 0); len(got) != 1 || got[0] != (extent{0, 8 * giB, hole}) {
		t.Errorf("compact allocation map after zeroing: %+v, want one hole", got)
	}
}

func TestQemuNBDListAndInfo(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	s := qemuNBD(t, 16*miB)

	exports, err := client.List(ctx, "unix", s.socket, nil)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if want := []client.Export{{"disk", "scratch disk"}}; !slices.Equal(exports, want) {
		t.Errorf("List = %+v, want %+v", exports, want)
	}

	n, err := client.Handshake(ctx, dialRaw(t, s), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Abort()
	if !n.ExtendedHeaders() {
		t.Error("Negotiator.ExtendedHeaders() = false")
	}
	info, err := n.Info(ctx, "disk")
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Name != "disk" || info.Description != "scratch disk" || info.Size != 16*miB {
		t.Errorf("Info = %+v", info)
	}
	if info.Flags&protocol.FlagSendWriteZeroes == 0 {
		t.Errorf("Info flags %#x lack FlagSendWriteZeroes", info.Flags)
	}
	if _, err := n.Info(ctx, "nonexistent"); err == nil {
		t.Error("Info of a nonexistent export succeeded")
	}
}
