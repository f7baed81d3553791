package server_test

// The server's allocations per request, measured around a raw exchange.

import (
	"context"
	"io"
	"testing"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

// flatDisk is a plugin that allocates nothing per request, so that allocations measured
// around it are the engine's.
type flatDisk struct{ data []byte }

func (d *flatDisk) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	return d, nil
}
func (d *flatDisk) Size(ctx context.Context) (int64, error) { return int64(len(d.data)), nil }
func (d *flatDisk) ReadAt(ctx context.Context, p []byte, off int64) error {
	copy(p, d.data[off:])
	return nil
}
func (d *flatDisk) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	copy(d.data[off:], p)
	return nil
}
func (d *flatDisk) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	clear(d.data[off : off+length])
	return nil
}

// Extents reports alternating 64 KiB data and hole extents.
func (d *flatDisk) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	for pos := off &^ (64<<10 - 1); pos < off+length; pos += 64 << 10 {
		t := server.ExtentData
		if pos&(64<<10) != 0 {
			t = server.ExtentHole | server.ExtentZero
		}
		if err := e.Add(pos, 64<<10, t); err != nil {
			return err
		}
	}
	return nil
}

// TestServerAllocs measures the server's allocations per request: a raw client sends a
// pre-encoded request and reads the reply into a pre-sized buffer, so that every
// allocation counted is the server's. The target, met, is zero for every successful
// request; refused requests allocate for their log record and error message.
func TestServerAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	d := &flatDisk{data: make([]byte, 64<<20)}
	path := startServer(t, server.PluginLayer("flat", d), server.Options{})
	for _, neg := range []negotiation{{}, {structured: true, meta: true}, {extended: true, meta: true}} {
		c := negotiate(t, path, neg)
		cases := []struct {
			name    string
			req     protocol.Request
			payload int
		}{
			{"read 4K", protocol.Request{Type: protocol.CmdRead, Offset: 4096, Length: 4096}, 0},
			{"read 1M DF", protocol.Request{Type: protocol.CmdRead, Flags: protocol.CmdFlagDF, Offset: 1 << 20, Length: 1 << 20}, 0},
			{"sparse read 1M", protocol.Request{Type: protocol.CmdRead, Offset: 1 << 20, Length: 1 << 20}, 0},
			{"write 4K", protocol.Request{Type: protocol.CmdWrite, Offset: 4096, Length: 4096}, 4096},
			{"zero 1M", protocol.Request{Type: protocol.CmdWriteZeroes, Offset: 1 << 20, Length: 1 << 20}, 0},
			{"block status 64K", protocol.Request{Type: protocol.CmdBlockStatus, Offset: 0, Length: 64 << 10}, 0},
			{"block status 1M", protocol.Request{Type: protocol.CmdBlockStatus, Offset: 0, Length: 1 << 20}, 0},
			{"refused read", protocol.Request{Type: protocol.CmdRead, Offset: 1 << 40, Length: 4096}, 0},
		}
		for _, tc := range cases {
			if tc.req.Flags&protocol.CmdFlagDF != 0 && !neg.structured && !neg.extended ||
				tc.req.Type == protocol.CmdBlockStatus && !neg.meta {
				continue
			}
			// The size of the reply, from a first exchange.
			rep := c.do(tc.req, make([]byte, tc.payload))
			size := protocol.SimpleReplySize + len(rep.data)
			if len(rep.chunks) > 0 {
				size = 0
				for _, ch := range rep.chunks {
					size += protocol.ReplyHeaderSize(rep.magic) + len(ch.payload)
				}
			}
			tc.req.Cookie = 7
			wire := append(protocol.AppendRequest(nil, &tc.req, neg.extended), make([]byte, tc.payload)...)
			reply := make([]byte, size)
			exchange := func() {
				if _, err := c.nc.Write(wire); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c.br, reply); err != nil {
					t.Fatal(err)
				}
			}
			exchange()
			if c.br.Buffered() != 0 {
				t.Fatalf("%s: reply longer than %d bytes", tc.name, size)
			}
			allocs := testing.AllocsPerRun(200, exchange)
			t.Logf("structured=%-5v extended=%-5v %-16s (%d reply bytes): %.2f allocations per request", neg.structured, neg.extended, tc.name, size, allocs)
			if allocs > 0 && tc.name != "refused read" {
				t.Errorf("%s: %.2f allocations per request, want 0", tc.name, allocs)
			}
		}
	}
}
