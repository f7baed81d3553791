package server_test

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

// pipeline sends every request before reading any reply, and returns the replies by
// cookie.
func pipeline(c *rawConn, reqs []protocol.Request, payloads [][]byte) map[uint64]reply {
	c.t.Helper()
	cookies := make([]uint64, len(reqs))
	for i, r := range reqs {
		cookies[i] = c.send(r, payloads[i])
	}
	replies := map[uint64]reply{}
	for range reqs {
		rep := c.readReply()
		if _, dup := replies[rep.cookie]; dup {
			c.t.Fatalf("two replies to cookie %d", rep.cookie)
		}
		replies[rep.cookie] = rep
	}
	return replies
}

func Test64InFlight(t *testing.T) {
	const n, chunk = 64, 64 << 10
	d := newTestDisk(n * chunk)
	path := startServer(t, d.layer(), server.Options{})
	for _, neg := range []negotiation{{}, {structured: true}, {extended: true}} {
		c := negotiate(t, path, neg)
		var reqs []protocol.Request
		var payloads [][]byte
		for i := range n {
			reqs = append(reqs, protocol.Request{Type: protocol.CmdWrite, Offset: uint64(i * chunk), Length: chunk})
			payloads = append(payloads, pattern(chunk, byte(i)+byte(len(neg.export))))
		}
		for _, rep := range pipeline(c, reqs, payloads) {
			if rep.errno != 0 {
				t.Fatalf("write: %s", errnoOf(rep))
			}
		}
		for i := range reqs {
			reqs[i].Type, payloads[i] = protocol.CmdRead, nil
			reqs[i].Cookie = uint64(1000 + i)
		}
		replies := pipeline(c, reqs, payloads)
		for i, r := range reqs {
			if got := c.readData(replies[r.Cookie], r.Offset, r.Length); !bytes.Equal(got, pattern(chunk, byte(i))) {
				t.Fatalf("read %d returned other data", i)
			}
		}
	}
}

// gatedReads pipelines n reads on c without reading the replies.
func gatedReads(c *rawConn, n int) {
	for i := range n {
		c.send(protocol.Request{Type: protocol.CmdRead, Offset: uint64(i) * 4096, Length: 4096}, nil)
	}
}

func readAll(t *testing.T, c *rawConn, n int) {
	t.Helper()
	for range n {
		if rep := c.readReply(); rep.errno != 0 {
			t.Fatalf("reply: %s", errnoOf(rep))
		}
	}
}

func TestThreadsCap(t *testing.T) {
	d := newTestDisk(1 << 20)
	d.gate = make(chan struct{})
	path := startServer(t, d.layer(), server.Options{Threads: 4})
	c := negotiate(t, path, negotiation{structured: true})
	gatedReads(c, 32)
	waitFor(t, "4 requests in the plugin", func() bool { return d.active.Load() == 4 })
	time.Sleep(100 * time.Millisecond)
	if n := d.active.Load(); n != 4 {
		t.Errorf("%d requests in the plugin with Threads 4", n)
	}
	close(d.gate)
	readAll(t, c, 32)
	if m := d.maxActive.Load(); m != 4 {
		t.Errorf("at most %d requests in the plugin at once, want 4", m)
	}
}

func TestThreadModels(t *testing.T) {
	for _, tc := range []struct {
		name           string
		model          server.ThreadModel
		total, perConn int64 // most requests in the plugin with two connections
	}{
		{"parallel", server.Parallel, 32, 16},
		{"serialize_requests", server.SerializeRequests, 2, 1},
		{"serialize_all_requests", server.SerializeAllRequests, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDisk(1 << 20)
			d.threadModel = tc.model
			d.gate = make(chan struct{})
			path := startServer(t, d.layer(), server.Options{})
			c1 := negotiate(t, path, negotiation{structured: true})
			c2 := negotiate(t, path, negotiation{extended: true})
			gatedReads(c1, 20)
			gatedReads(c2, 20)
			waitFor(t, "requests in the plugin", func() bool { return d.active.Load() == tc.total })
			time.Sleep(100 * time.Millisecond)
			if n := d.active.Load(); n != tc.total {
				t.Errorf("%d requests in the plugin, want %d", n, tc.total)
			}
			close(d.gate)
			readAll(t, c1, 20)
			readAll(t, c2, 20)
			if m := d.maxActive.Load(); m != tc.total {
				t.Errorf("at most %d requests in the plugin, want %d", m, tc.total)
			}
			for _, h := range d.openHandles() {
				if m := h.maxActive.Load(); m != tc.perConn {
					t.Errorf("at most %d requests of one connection in the plugin, want %d", m, tc.perConn)
				}
			}
		})
	}
}

func TestSerializeConnections(t *testing.T) {
	d := newTestDisk(1 << 20)
	d.threadModel = server.SerializeConnections
	path := startServer(t, d.layer(), server.Options{})
	c1 := negotiate(t, path, negotiation{structured: true})
	checkServes(t, c1)

	c2 := dialRaw(t, path)
	c2.nc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c2.br.ReadByte(); err == nil {
		t.Fatal("a second connection got its greeting while the first is open")
	}
	c1.send(protocol.Request{Type: protocol.CmdDisc}, nil)
	c1.expectClosed()
	c2.nc.SetReadDeadline(time.Now().Add(testTimeout))
	c2.greet(fixedNoZeroes)
	c2.goExport("")
	checkServes(t, c2)
}

// TestBackPressure pipelines 16 MiB of writes against a plugin that holds them, and checks
// that the server stops reading once MaxInFlightBytes are in flight.
func TestBackPressure(t *testing.T) {
	const n, size, limit = 64, 256 << 10, 1 << 20
	d := newTestDisk(n * size)
	d.gate = make(chan struct{})
	path := startServer(t, d.layer(), server.Options{MaxPayload: size, MaxInFlightBytes: limit})
	c := negotiate(t, path, negotiation{structured: true})
	var wire []byte
	for i := range n {
		r := protocol.Request{Type: protocol.CmdWrite, Cookie: uint64(i + 1), Offset: uint64(i * size), Length: size}
		c.sent[r.Cookie] = r
		wire = append(protocol.AppendRequest(wire, &r, false), pattern(size, byte(i))...)
	}
	written := make(chan error, 1)
	go func() {
		_, err := c.nc.Write(wire)
		written <- err
	}()
	waitFor(t, "writes in the plugin", func() bool { return d.bytesIn.Load() >= limit })
	time.Sleep(200 * time.Millisecond)
	if in := d.bytesIn.Load(); in > limit+size {
		t.Errorf("%d bytes of writes in the plugin, more than the cap %d plus one request", in, limit)
	}
	select {
	case err := <-written:
		t.Fatalf("the client wrote all 16 MiB (err %v) while the plugin held the writes: the server kept reading", err)
	default:
	}
	close(d.gate)
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	readAll(t, c, n)
	if m := d.maxBytesIn.Load(); m > limit+size {
		t.Errorf("up to %d bytes of writes in the plugin, more than the cap %d plus one request", m, limit)
	}
	if !bytes.Equal(d.contents(int64((n-1)*size), size), pattern(size, n-1)) {
		t.Error("the last write did not land")
	}
}

func TestPanicFailsRequestOnly(t *testing.T) {
	d := newTestDisk(1 << 20)
	d.panicOp.Store("write")
	path := startServer(t, d.layer(), server.Options{})
	for _, neg := range []negotiation{{}, {extended: true}} {
		c := negotiate(t, path, neg)
		for range 3 {
			if rep := c.do(protocol.Request{Type: protocol.CmdWrite, Length: 4096}, pattern(4096, 1)); rep.errno != protocol.EIO {
				t.Fatalf("panicking write: %s, want EIO", errnoOf(rep))
			}
			checkServes(t, c)
		}
	}
	d.write(pattern(4096, 1), 0) // so that the sparse read reads
	d.panicOp.Store("read")
	c := negotiate(t, path, negotiation{structured: true})
	if rep := c.do(protocol.Request{Type: protocol.CmdRead, Length: 128 << 10}, nil); rep.errno != protocol.EIO || len(rep.chunks) != 1 {
		t.Fatalf("panicking read: %s, %d chunks", errnoOf(rep), len(rep.chunks))
	}
	if rep := c.do(protocol.Request{Type: protocol.CmdFlush}, nil); rep.errno != 0 {
		t.Fatalf("flush after a panic: %s", errnoOf(rep))
	}
}

// TestBrokenClients checks that clients that vanish mid-request or send garbage lose
// their own connection only, and that their handles are closed.
func TestBrokenClients(t *testing.T) {
	d := newTestDisk(1 << 20)
	path := startServer(t, d.layer(), server.Options{})
	good := negotiate(t, path, negotiation{extended: true})

	half := negotiate(t, path, negotiation{structured: true})
	r := protocol.Request{Type: protocol.CmdWrite, Cookie: 1, Length: 64 << 10}
	half.write(append(protocol.AppendRequest(nil, &r, false), make([]byte, 32<<10)...))
	half.nc.Close()

	garbage := negotiate(t, path, negotiation{})
	garbage.write(bytes.Repeat([]byte("garbage!"), 8))
	garbage.expectClosed()

	waitFor(t, "the broken clients' handles to close", func() bool { return d.closes.Load() == 2 })
	checkServes(t, good)
	if n := d.count("write"); n != 0 {
		t.Errorf("the half-sent write reached the plugin %d times", n)
	}
	checkServes(t, negotiate(t, path, negotiation{}))
}

// TestShutdown cancels Serve while a request is in the plugin: the reply still arrives,
// then the connection closes, Serve returns nil and Close cleans up once.
func TestShutdown(t *testing.T) {
	d := newTestDisk(1 << 20)
	d.write([]byte("in flight"), 0)
	d.gate = make(chan struct{})
	d.entered = make(chan struct{}, 1)
	ts := startTestServer(t, d.layer(), server.Options{})
	c := negotiate(t, ts.path, negotiation{structured: true})
	idle := negotiate(t, ts.path, negotiation{extended: true})
	c.send(protocol.Request{Type: protocol.CmdRead, Length: 4096}, nil)
	<-d.entered

	stopped := make(chan error, 1)
	go func() { stopped <- ts.stop(t) }()
	idle.expectClosed()
	select {
	case <-stopped:
		t.Fatal("Serve returned with a request in flight")
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := net.Dial("unix", ts.path); err == nil {
		t.Error("the server accepts connections after its context was canceled")
	}
	close(d.gate)
	rep := c.readReply()
	if got := c.readData(rep, 0, 4096); string(got[:9]) != "in flight" {
		t.Fatalf("reply in flight: %q", got[:9])
	}
	c.expectClosed()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Serve did not return")
	}
	if n := d.cleanups.Load(); n != 1 {
		t.Errorf("Cleanup called %d times", n)
	}
	if d.closes.Load() != d.opens.Load() || d.opens.Load() != 2 {
		t.Errorf("%d handles opened, %d closed", d.opens.Load(), d.closes.Load())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := ts.srv.Close(ctx); err == nil {
		t.Error("a second Close succeeded")
	}
}
