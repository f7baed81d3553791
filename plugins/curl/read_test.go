package curl

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

func TestReadsTheObject(t *testing.T) {
	data := randomBytes(t, 1<<20+123)
	log := &requestLog{}
	ts := newTestServer(t, log.wrap(serveObject(data)))
	_, h := mustOpen(t, Options{URL: ts.URL + "/disk.img"})

	size, err := h.Size(context.Background())
	if err != nil || size != int64(len(data)) {
		t.Fatalf("Size = %d, %v; want %d", size, err, len(data))
	}
	// HEAD was enough: nginx, Apache and Go's file server say Accept-Ranges.
	if n := log.count(http.MethodGet, "bytes=0-0"); n != 0 {
		t.Errorf("the size was probed with %d GETs of the first byte, want none after a good HEAD", n)
	}
	mustReadAt(t, h, data, 0, len(data))
	mustReadAt(t, h, data, int64(len(data))-1, 1)
	mustReadAt(t, h, data, 4096, 512)
	for range 50 {
		off := rand.Int64N(int64(len(data)))
		length := 1 + rand.IntN(min(int(int64(len(data))-off), 200000))
		mustReadAt(t, h, data, off, length)
	}
	for _, r := range log.all() {
		if ua := r.Header.Get("User-Agent"); ua != "" {
			t.Errorf("%s %s sent User-Agent %q, want none (as libcurl)", r.Method, r.URL, ua)
		}
		if ae := r.Header.Get("Accept-Encoding"); ae != "" {
			t.Errorf("%s %s sent Accept-Encoding %q: a compressed answer has no byte ranges", r.Method, r.URL, ae)
		}
	}
}

func TestEmptyObject(t *testing.T) {
	ts := newTestServer(t, serveObject(nil))
	_, h := mustOpen(t, Options{URL: ts.URL + "/empty"})
	if size, err := h.Size(context.Background()); err != nil || size != 0 {
		t.Fatalf("Size = %d, %v; want 0", size, err)
	}
}

func TestHandleIsReadOnlyAndMultiConn(t *testing.T) {
	ts := newTestServer(t, serveObject(randomBytes(t, 4096)))
	p, err := New(Options{URL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Cleanup(context.Background())
	layer := server.PluginLayer("curl", p)
	ctx := context.Background()
	lh, err := layer.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := lh.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	c, err := lh.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Write || c.Trim || c.Zero || !c.MultiConn || c.Extents {
		t.Errorf("capabilities %+v: want read-only with multi-conn and no extents", c)
	}
	if err := lh.WriteAt(ctx, []byte{1}, 0, 0); server.ErrnoOf(err) != protocol.EPERM {
		t.Errorf("WriteAt: %v (NBD errno %v), want EPERM", err, server.ErrnoOf(err))
	}
}

// failFirst answers the first n ranged GETs with fail, the rest with next.
func failFirst(n int32, fail, next http.HandlerFunc) (http.HandlerFunc, *atomic.Int32) {
	var ranged atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.Header.Get("Range") != "" && ranged.Add(1) <= n {
			fail(w, r)
			return
		}
		next(w, r)
	}, &ranged
}

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no luck", code) }
}

func TestRetriesServerErrors(t *testing.T) {
	data := randomBytes(t, 64<<10)
	handler, ranged := failFirst(3, func(w http.ResponseWriter, r *http.Request) {
		codes := []int{500, 503, 502}
		status(codes[rand.IntN(len(codes))])(w, r)
	}, serveObject(data))
	ts := newTestServer(t, handler)
	_, h := mustOpen(t, Options{URL: ts.URL})
	mustReadAt(t, h, data, 1000, 5000)
	if got := ranged.Load(); got != 4 {
		t.Errorf("%d ranged GETs, want 3 failed and 1 that succeeded", got)
	}
}

func TestGivesUpAfterRetries(t *testing.T) {
	data := randomBytes(t, 64<<10)
	handler, ranged := failFirst(1000, status(http.StatusServiceUnavailable), serveObject(data))
	ts := newTestServer(t, handler)
	_, h := mustOpen(t, Options{URL: ts.URL, Retries: 2})
	_, err := readAt(t, h, 0, 100)
	wantError(t, "reading from a server that always answers 503", err, "503 Service Unavailable", "tried 3 times")
	if server.ErrnoOf(err) != protocol.EIO {
		t.Errorf("NBD errno %v, want EIO", server.ErrnoOf(err))
	}
	if got := ranged.Load(); got != 3 {
		t.Errorf("%d ranged GETs, want 3 (Retries: 2)", got)
	}

	// Negative Retries: one attempt.
	before := ranged.Load()
	_, h = mustOpen(t, Options{URL: ts.URL, Retries: -1})
	if _, err := readAt(t, h, 0, 100); err == nil {
		t.Fatal("read succeeded")
	}
	if got := ranged.Load() - before; got != 1 {
		t.Errorf("%d ranged GETs with Retries: -1, want 1", got)
	}
}

func TestDoesNotRetryClientErrors(t *testing.T) {
	for _, tt := range []struct {
		code  int
		errno protocol.Errno
		sys   syscall.Errno
	}{
		{http.StatusNotFound, protocol.EIO, syscall.ENOENT},
		{http.StatusForbidden, protocol.EPERM, syscall.EACCES},
		{http.StatusUnauthorized, protocol.EPERM, syscall.EACCES},
		{http.StatusNotImplemented, protocol.EIO, syscall.EIO},
	} {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			log := &requestLog{}
			ts := newTestServer(t, log.wrap(status(tt.code)))
			_, _, err := openPlugin(t, Options{URL: ts.URL + "/missing.img"})
			wantError(t, "opening", err, strconv.Itoa(tt.code)+" "+http.StatusText(tt.code), "/missing.img")
			if server.ErrnoOf(err) != tt.errno || !errors.Is(err, tt.sys) {
				t.Errorf("error %v: NBD errno %v, want %v (%v)", err, server.ErrnoOf(err), tt.errno, tt.sys)
			}
			// HEAD, then the GET of the first byte, once each.
			if n := len(log.all()); n != 2 {
				t.Errorf("%d requests, want 2 (HEAD, then GET of the first byte), none retried", n)
			}
		})
	}
}

func TestShortBodies(t *testing.T) {
	data := randomBytes(t, 256<<10)
	short := func(w http.ResponseWriter, r *http.Request) {
		// Announce the whole range, send half of it, and hang up.
		var first, last int64
		fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &first, &last)
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(data)))
		w.Header().Set("Content-Length", strconv.FormatInt(last-first+1, 10))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(data[first : first+(last-first+1)/2])
	}
	handler, ranged := failFirst(2, short, serveObject(data))
	ts := newTestServer(t, handler)
	_, h := mustOpen(t, Options{URL: ts.URL})
	mustReadAt(t, h, data, 1000, 100000)
	if got := ranged.Load(); got != 3 {
		t.Errorf("%d ranged GETs, want 2 cut short and 1 whole", got)
	}

	handler, _ = failFirst(1000, short, serveObject(data))
	ts = newTestServer(t, handler)
	_, h = mustOpen(t, Options{URL: ts.URL, Retries: 1})
	_, err := readAt(t, h, 1000, 100000)
	wantError(t, "reading answers cut short", err, "the answer ended after 50000 of 100000 bytes", "tried 2 times")
}

func TestDroppedConnections(t *testing.T) {
	data := randomBytes(t, 64<<10)
	hangUp := func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.(*net.TCPConn).SetLinger(0) // a reset, not a polite close
		conn.Close()
	}
	handler, ranged := failFirst(2, hangUp, serveObject(data))
	ts := newTestServer(t, handler)
	_, h := mustOpen(t, Options{URL: ts.URL})
	mustReadAt(t, h, data, 0, len(data))
	if got := ranged.Load(); got < 3 {
		t.Errorf("%d ranged GETs, want 2 dropped and 1 answered", got)
	}
}

func TestTimeouts(t *testing.T) {
	data := randomBytes(t, 64<<10)
	stall := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(testTimeout):
		}
	}
	handler, ranged := failFirst(1, stall, serveObject(data))
	ts := newTestServer(t, handler)
	_, h := mustOpen(t, Options{URL: ts.URL, Timeout: 200 * time.Millisecond})
	start := time.Now()
	mustReadAt(t, h, data, 0, 4096)
	if elapsed := time.Since(start); elapsed < 200*time.Millisecond || ranged.Load() != 2 {
		t.Errorf("read took %v with %d ranged GETs, want a first one timed out after 200ms, then one answered", elapsed, ranged.Load())
	}

	handler, _ = failFirst(1000, stall, serveObject(data))
	ts = newTestServer(t, handler)
	_, h = mustOpen(t, Options{URL: ts.URL, Timeout: 100 * time.Millisecond, Retries: 1})
	_, err := readAt(t, h, 0, 4096)
	wantError(t, "reading from a server that never answers", err, "timeout=100ms", "tried 2 times")
}

func TestClientGoneStopsRetries(t *testing.T) {
	handler, ranged := failFirst(1000, status(http.StatusBadGateway), serveObject(randomBytes(t, 4096)))
	ts := newTestServer(t, handler)
	_, h := mustOpen(t, Options{URL: ts.URL, RetryDelay: time.Hour, Retries: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := h.ReadAt(ctx, make([]byte, 10), 0)
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("ReadAt = %v after %v, want an error when the context ends", err, time.Since(start))
	}
	if !errors.Is(err, context.DeadlineExceeded) || ranged.Load() != 1 {
		t.Errorf("error %v after %d GETs, want the context's after 1", err, ranged.Load())
	}
}

func TestServerIgnoringRanges(t *testing.T) {
	data := randomBytes(t, 64<<10)
	whole := func(advertise bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if advertise {
				w.Header().Set("Accept-Ranges", "bytes")
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			if r.Method != http.MethodHead {
				w.Write(data)
			}
		}
	}
	// Without Accept-Ranges, the GET of the first byte tells at open.
	ts := newTestServer(t, whole(false))
	_, _, err := openPlugin(t, Options{URL: ts.URL})
	wantError(t, "opening", err, "ignores Range requests", "200 OK")

	// A server that claims ranges and ignores them is found out at the first read.
	ts = newTestServer(t, whole(true))
	_, h := mustOpen(t, Options{URL: ts.URL})
	_, err = readAt(t, h, 100, 100)
	wantError(t, "reading", err, "ignored the Range header", "200 OK")
}

func TestSizeWithoutHead(t *testing.T) {
	data := randomBytes(t, 100000)
	for _, tt := range []struct {
		name string
		head http.HandlerFunc
	}{
		{"no length", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }},
		{"405", status(http.StatusMethodNotAllowed)},
		{"403", status(http.StatusForbidden)}, // URLs signed for GET only
		{"no Accept-Ranges", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log := &requestLog{}
			object := serveObject(data)
			ts := newTestServer(t, log.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodHead {
					tt.head(w, r)
					return
				}
				object(w, r)
			})))
			_, h := mustOpen(t, Options{URL: ts.URL})
			if size, _ := h.Size(context.Background()); size != int64(len(data)) {
				t.Errorf("size %d, want %d", size, len(data))
			}
			if n := log.count(http.MethodGet, "bytes=0-0"); n != 1 {
				t.Errorf("%d GETs of the first byte, want 1", n)
			}
			mustReadAt(t, h, data, 99000, 1000)
		})
	}
}

func TestObjectChangingSize(t *testing.T) {
	data := randomBytes(t, 8192)
	var grown atomic.Bool
	ts := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if grown.Load() {
			serveObject(append(data, data...))(w, r)
			return
		}
		serveObject(data)(w, r)
	}))
	_, h := mustOpen(t, Options{URL: ts.URL})
	mustReadAt(t, h, data, 0, 100)
	grown.Store(true)
	_, err := readAt(t, h, 0, 100)
	wantError(t, "reading after the object grew", err, "size changed from 8192 to 16384 bytes")
}

func TestWrongContentRange(t *testing.T) {
	data := randomBytes(t, 8192)
	object := serveObject(data)
	ts := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") == "bytes=100-199" {
			r.Header.Set("Range", "bytes=0-99")
		}
		object(w, r)
	}))
	_, h := mustOpen(t, Options{URL: ts.URL})
	_, err := readAt(t, h, 100, 100)
	wantError(t, "reading a range the server answers with another", err, "asked for bytes 100-199", "bytes 0-99/8192")
}

// TestConnectionPool checks that requests from many goroutines, as from many clients,
// share Connections connections and run that many at once.
func TestConnectionPool(t *testing.T) {
	data := randomBytes(t, 1<<20)
	var inFlight, most atomic.Int32
	object := serveObject(data)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		object(w, r)
	}))
	var conns atomic.Int32
	ts.Config.ConnState = func(c net.Conn, state http.ConnState) {
		if state == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	defer ts.Close()
	p, err := New(Options{URL: ts.URL, Connections: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Cleanup(context.Background())
	var wg sync.WaitGroup
	for client := range 4 {
		h, err := p.Open(context.Background(), server.OpenRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for worker := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					off := int64((client*80+worker*10+i)*4096) % int64(len(data))
					mustReadAt(t, h, data, off, 4096)
				}
			}()
		}
	}
	wg.Wait()
	if m := most.Load(); m != 3 {
		t.Errorf("at most %d requests at once, want 3 (connections=3)", m)
	}
	if n := conns.Load(); n > 3 {
		t.Errorf("%d connections to the server, want at most 3", n)
	}
}
