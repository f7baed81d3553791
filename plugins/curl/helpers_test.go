package curl

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
)

// testTimeout bounds what one test waits for.
const testTimeout = 30 * time.Second

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// serveObject serves data as a web server serves a file: HEAD, ranges, Accept-Ranges.
func serveObject(data []byte) http.HandlerFunc {
	modified := time.Now()
	return func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "disk.img", modified, bytes.NewReader(data))
	}
}

// requestLog records the requests a test server received.
type requestLog struct {
	mu       sync.Mutex
	requests []*http.Request
}

// wrap returns h recording each request before h answers it.
func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.requests = append(l.requests, r.Clone(context.Background()))
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// all returns the requests recorded so far.
func (l *requestLog) all() []*http.Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*http.Request(nil), l.requests...)
}

// count returns how many recorded requests had method and, if rangeHeader is not
// empty, that Range.
func (l *requestLog) count(method, rangeHeader string) int {
	n := 0
	for _, r := range l.all() {
		if r.Method == method && (rangeHeader == "" || r.Header.Get("Range") == rangeHeader) {
			n++
		}
	}
	return n
}

// newTestServer starts an HTTP server for h and closes it when the test ends.
func newTestServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// fastRetries are Options that retry quickly, for tests of failures.
func fastRetries(opts Options) Options {
	if opts.RetryDelay == 0 {
		opts.RetryDelay = time.Millisecond
	}
	return opts
}

// openPlugin makes the plugin and opens a handle, or returns the error of either.
func openPlugin(t testing.TB, opts Options) (*Plugin, server.Handle, error) {
	t.Helper()
	p, err := New(fastRetries(opts))
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { p.Cleanup(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	h, err := p.Open(ctx, server.OpenRequest{ReadOnly: true})
	return p, h, err
}

// mustOpen is openPlugin that fails the test on error.
func mustOpen(t testing.TB, opts Options) (*Plugin, server.Handle) {
	t.Helper()
	p, h, err := openPlugin(t, opts)
	if err != nil {
		t.Fatalf("opening %s: %v", opts.URL, err)
	}
	return p, h
}

// readAt reads length bytes at off through h.
func readAt(t testing.TB, h server.Handle, off int64, length int) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	buf := make([]byte, length)
	err := h.ReadAt(ctx, buf, off)
	return buf, err
}

// mustReadAt reads length bytes at off and checks that they are want's.
func mustReadAt(t testing.TB, h server.Handle, want []byte, off int64, length int) {
	t.Helper()
	got, err := readAt(t, h, off, length)
	if err != nil {
		t.Fatalf("reading %d bytes at %d: %v", length, off, err)
	}
	if !bytes.Equal(got, want[off:off+int64(length)]) {
		t.Fatalf("reading %d bytes at %d: the bytes differ from the object's", length, off)
	}
}

// wantError fails the test unless err is an error mentioning every one of want.
func wantError(t testing.TB, what string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want an error mentioning %q", what, want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q does not mention %q", what, err, w)
		}
	}
}
