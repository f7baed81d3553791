package server_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

// TestRequestValidation sends requests that break a rule of the specification and
// checks the error, that the plugin never saw them, and that the connection serves the
// next request.
func TestRequestValidation(t *testing.T) {
	const size = 1 << 20
	full := newTestDisk(size)
	full.block = server.BlockSize{Minimum: 512, Preferred: 4096, Maximum: 64 << 10}
	stripped := newTestDisk(size)
	stripped.caps = func(c *server.Capabilities) {
		c.FUA, c.FastZero, c.Trim, c.Cache = server.FUANone, false, false, server.CacheNone
	}
	readOnly := newTestDisk(size)
	paths := map[*testDisk]string{
		full:     startServer(t, full.layer(), server.Options{}),
		stripped: startServer(t, stripped.layer(), server.Options{}),
		readOnly: startServer(t, readOnly.layer(), server.Options{ReadOnly: true}),
	}
	structured := negotiation{structured: true, meta: true}
	extended := negotiation{extended: true, meta: true}
	simple := negotiation{}

	const (
		read, write, flush, trim = protocol.CmdRead, protocol.CmdWrite, protocol.CmdFlush, protocol.CmdTrim
		zero, cache, status      = protocol.CmdWriteZeroes, protocol.CmdCache, protocol.CmdBlockStatus
	)
	for _, tc := range []struct {
		name    string
		disk    *testDisk
		n       negotiation
		req     protocol.Request
		payload int // bytes of payload sent after the header
		want    protocol.Errno
	}{
		{"unknown command", full, structured, protocol.Request{Type: 42, Length: 512}, 0, protocol.EINVAL},
		{"resize", full, structured, protocol.Request{Type: protocol.CmdResize, Length: 512}, 0, protocol.EINVAL},
		{"unknown flag", full, structured, protocol.Request{Type: read, Flags: 1 << 10, Length: 512}, 0, protocol.EINVAL},
		{"payload flag compact", full, structured, protocol.Request{Type: read, Flags: protocol.CmdFlagPayloadLen, Length: 512}, 0, protocol.EINVAL},
		{"payload flag on status", full, extended, protocol.Request{Type: status, Flags: protocol.CmdFlagPayloadLen, Length: 12}, 12, protocol.EINVAL},
		{"FUA not negotiated", stripped, structured, protocol.Request{Type: write, Flags: protocol.CmdFlagFUA, Length: 512}, 512, protocol.EINVAL},
		{"DF on write", full, structured, protocol.Request{Type: write, Flags: protocol.CmdFlagDF, Length: 512}, 512, protocol.EINVAL},
		{"DF without structured", full, simple, protocol.Request{Type: read, Flags: protocol.CmdFlagDF, Length: 512}, 0, protocol.EINVAL},
		{"REQ_ONE on read", full, structured, protocol.Request{Type: read, Flags: protocol.CmdFlagReqOne, Length: 512}, 0, protocol.EINVAL},
		{"FAST_ZERO on write", full, structured, protocol.Request{Type: write, Flags: protocol.CmdFlagFastZero, Length: 512}, 512, protocol.EINVAL},
		{"FAST_ZERO not negotiated", stripped, structured, protocol.Request{Type: zero, Flags: protocol.CmdFlagFastZero, Length: 512}, 0, protocol.EINVAL},
		{"trim not negotiated", stripped, structured, protocol.Request{Type: trim, Length: 512}, 0, protocol.EINVAL},
		{"cache not negotiated", stripped, structured, protocol.Request{Type: cache, Length: 512}, 0, protocol.EINVAL},
		{"NO_HOLE on write", full, structured, protocol.Request{Type: write, Flags: protocol.CmdFlagNoHole, Length: 512}, 512, protocol.EINVAL},
		{"NO_HOLE on trim", full, structured, protocol.Request{Type: trim, Flags: protocol.CmdFlagNoHole, Length: 512}, 0, protocol.EINVAL},
		{"read past the end", full, structured, protocol.Request{Type: read, Offset: size - 512, Length: 1024}, 0, protocol.EINVAL},
		{"read after the end", full, structured, protocol.Request{Type: read, Offset: 2 * size, Length: 512}, 0, protocol.EINVAL},
		{"write past the end", full, structured, protocol.Request{Type: write, Offset: size - 512, Length: 1024}, 1024, protocol.ENOSPC},
		{"zero past the end", full, structured, protocol.Request{Type: zero, Offset: size - 512, Length: 1024}, 0, protocol.ENOSPC},
		{"trim past the end", full, structured, protocol.Request{Type: trim, Offset: size - 512, Length: 1024}, 0, protocol.EINVAL},
		{"cache past the end", full, structured, protocol.Request{Type: cache, Offset: size, Length: 512}, 0, protocol.EINVAL},
		{"status past the end", full, structured, protocol.Request{Type: status, Offset: size, Length: 512}, 0, protocol.EINVAL},
		{"simple read past the end", full, simple, protocol.Request{Type: read, Offset: size - 512, Length: 1024}, 0, protocol.EINVAL},
		{"zero-length read", full, structured, protocol.Request{Type: read, Length: 0}, 0, protocol.EINVAL},
		{"zero-length trim", full, structured, protocol.Request{Type: trim, Length: 0}, 0, protocol.EINVAL},
		{"zero-length status", full, structured, protocol.Request{Type: status, Length: 0}, 0, protocol.EINVAL},
		{"offset wraps", full, structured, protocol.Request{Type: read, Offset: math.MaxUint64 - 511, Length: 1024}, 0, protocol.EINVAL},
		{"extended offset wraps", full, extended, protocol.Request{Type: read, Offset: math.MaxUint64 - 511, Length: 1024}, 0, protocol.EINVAL},
		{"extended length wraps", full, extended, protocol.Request{Type: trim, Offset: 512, Length: math.MaxUint64}, 0, protocol.EINVAL},
		{"extended zero wraps", full, extended, protocol.Request{Type: zero, Offset: 512, Length: math.MaxUint64 - 511}, 0, protocol.ENOSPC},
		{"unaligned offset", full, structured, protocol.Request{Type: read, Offset: 100, Length: 512}, 0, protocol.EINVAL},
		{"unaligned length", full, structured, protocol.Request{Type: read, Length: 100}, 0, protocol.EINVAL},
		{"unaligned write", full, structured, protocol.Request{Type: write, Offset: 512, Length: 100}, 100, protocol.EINVAL},
		{"unaligned zero", full, extended, protocol.Request{Type: zero, Offset: 256, Length: 512}, 0, protocol.EINVAL},
		{"read over the maximum", full, structured, protocol.Request{Type: read, Length: 128 << 10}, 0, protocol.EOVERFLOW},
		{"simple read over the maximum", full, simple, protocol.Request{Type: read, Length: 128 << 10}, 0, protocol.EOVERFLOW},
		{"write over the maximum", full, structured, protocol.Request{Type: write, Length: 128 << 10}, 128 << 10, protocol.EINVAL},
		{"flush with offset", full, structured, protocol.Request{Type: flush, Offset: 512}, 0, protocol.EINVAL},
		{"flush with length", full, extended, protocol.Request{Type: flush, Length: 512}, 0, protocol.EINVAL},
		{"flush with FUA", full, structured, protocol.Request{Type: flush, Flags: protocol.CmdFlagFUA}, 0, 0},
		{"status without context", full, negotiation{structured: true}, protocol.Request{Type: status, Length: 512}, 0, protocol.EINVAL},
		{"write read-only", readOnly, structured, protocol.Request{Type: write, Length: 512}, 512, protocol.EPERM},
		{"zero read-only", readOnly, structured, protocol.Request{Type: zero, Length: 512}, 0, protocol.EPERM},
		{"trim read-only", readOnly, extended, protocol.Request{Type: trim, Length: 512}, 0, protocol.EPERM},
		{"write read-only simple", readOnly, simple, protocol.Request{Type: write, Length: 512}, 512, protocol.EPERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := negotiate(t, paths[tc.disk], tc.n)
			before := tc.disk.dataCalls.Load()
			rep := c.do(tc.req, bytes.Repeat([]byte{0xee}, tc.payload))
			if rep.errno != tc.want {
				t.Errorf("%v: %s, want %v", tc.req.Type, errnoOf(rep), tc.want)
			}
			if tc.want != 0 {
				if n := tc.disk.dataCalls.Load() - before; n != 0 {
					t.Errorf("the plugin was called %d times for a refused request", n)
				}
				if rep.magic != protocol.SimpleReplyMagic && len(rep.chunks) != 1 {
					t.Errorf("%d chunks in an error reply", len(rep.chunks))
				}
			}
			// The connection goes on, in step.
			rep = c.do(protocol.Request{Type: read, Offset: 512, Length: 512}, nil)
			if data := c.readData(rep, 512, 512); !bytes.Equal(data, tc.disk.contents(512, 512)) {
				t.Errorf("read after the refused request returned other data")
			}
		})
	}
	for d := range paths {
		if p := d.contents(0, size); !bytes.Equal(p, make([]byte, size)) {
			t.Errorf("refused requests changed the disk")
		}
	}
}

// TestWriteOverMaxPayload checks both answers to a write whose payload exceeds the
// maximum the server buffers: a compact request is drained and refused; an extended
// one, which could announce any length, ends the connection.
func TestWriteOverMaxPayload(t *testing.T) {
	d := newTestDisk(16 << 20)
	path := startServer(t, d.layer(), server.Options{MaxPayload: 64 << 10})
	big := pattern(256<<10, 1)

	c := negotiate(t, path, negotiation{structured: true})
	if rep := c.do(protocol.Request{Type: protocol.CmdWrite, Length: uint64(len(big))}, big); rep.errno != protocol.EINVAL {
		t.Errorf("compact write of 256 KiB: %s, want EINVAL", errnoOf(rep))
	}
	c.readData(c.do(protocol.Request{Type: protocol.CmdRead, Length: 4096}, nil), 0, 4096)

	c = negotiate(t, path, negotiation{})
	if rep := c.do(protocol.Request{Type: protocol.CmdWrite, Length: uint64(len(big))}, big); rep.errno != protocol.EINVAL {
		t.Errorf("simple write of 256 KiB: %s, want EINVAL", errnoOf(rep))
	}
	c.readData(c.do(protocol.Request{Type: protocol.CmdRead, Length: 4096}, nil), 0, 4096)

	c = negotiate(t, path, negotiation{extended: true})
	c.send(protocol.Request{Type: protocol.CmdWrite, Length: 1 << 40}, big[:4096])
	c.expectClosed()
	if n := d.count("write"); n != 0 {
		t.Errorf("%d plugin writes for refused writes", n)
	}
}
