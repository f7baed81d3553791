package curl

import (
	"context"
	"io"
	"net/http"

	"github.com/gonbd/gonbd/server"
)

// handle is one client connection's view of the object. It is read-only: it has no
// WriteAt, so clients cannot write (see the package documentation).
type handle struct {
	plugin *Plugin
	// size is the object's size when the client connected. Reads that find another
	// size fail rather than mix bytes of two versions of the object.
	size int64
}

func (h *handle) Size(ctx context.Context) (int64, error) { return h.size, nil }

// Capabilities adds multi-conn to what a read-only handle has: with no writes, every
// connection sees the same bytes, so clients may spread their reads over several.
func (h *handle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	c.MultiConn = true
	return nil
}

// ReadAt fills p with the bytes at off, by one GET of that range, tried again as
// Options.Retries says when it fails for a reason that may pass.
func (h *handle) ReadAt(ctx context.Context, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	return h.plugin.retry(ctx, func(ctx context.Context) error {
		return h.readOnce(ctx, p, off)
	})
}

// readOnce asks the server for the range once and checks that the answer is that
// range of the object the client connected to.
func (h *handle) readOnce(ctx context.Context, p []byte, off int64) error {
	pl := h.plugin
	tmpl, err := pl.templates.get(ctx)
	if err != nil {
		return err
	}
	req, err := tmpl.newRequest(ctx, http.MethodGet, pl.url)
	if err != nil {
		return err
	}
	req.Header.Set("Range", rangeHeader(off, int64(len(p))))
	resp, err := pl.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	where := req.Method + " " + resp.Request.URL.Redacted()
	switch resp.StatusCode {
	case http.StatusPartialContent:
	case http.StatusOK:
		return protocolErrorf("%s: the server ignored the Range header (it answered %s instead of 206 Partial Content)", where, resp.Status)
	default:
		return newStatusError(req, resp)
	}
	r, err := parseContentRange(resp.Header.Get("Content-Range"))
	last := off + int64(len(p)) - 1
	switch {
	case err != nil:
		return protocolErrorf("%s: %v", where, err)
	case r.unsatisfied || r.first != off || r.last != last:
		return protocolErrorf("%s: asked for bytes %d-%d, the server answered Content-Range %q", where, off, last, resp.Header.Get("Content-Range"))
	case r.size >= 0 && r.size != h.size:
		return protocolErrorf("%s: the object's size changed from %d to %d bytes since the client connected", where, h.size, r.size)
	}
	if n, err := io.ReadFull(resp.Body, p); err != nil {
		return &shortBodyError{method: req.Method, url: resp.Request.URL.Redacted(), got: n, want: len(p), err: err}
	}
	return nil
}
