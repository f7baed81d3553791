package curl

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
)

// probe returns the object's size, making sure the server serves ranges of it.
//
// A HEAD request that answers with a Content-Length and "Accept-Ranges: bytes" is
// enough. Otherwise (no length, no Accept-Ranges, HEAD refused as with 405 or with the
// 403 of URLs signed for GET only) a GET of the first byte tells both: a 206 answer
// gives the size in its Content-Range, while a 200 answer with the whole object means
// the server ignores ranges, and the plugin cannot use it.
func (p *Plugin) probe(ctx context.Context) (int64, error) {
	var size int64
	err := p.retry(ctx, func(ctx context.Context) error {
		var err error
		size, err = p.probeOnce(ctx)
		return err
	})
	return size, err
}

func (p *Plugin) probeOnce(ctx context.Context) (int64, error) {
	tmpl, err := p.templates.get(ctx)
	if err != nil {
		return 0, err
	}
	size, err := p.head(ctx, tmpl)
	var status *statusError
	switch {
	case err == nil:
		return size, nil
	case errors.As(err, &status) && !status.transient(), errors.Is(err, errInconclusiveHead):
		p.log.Debug("asking for the first byte instead", "head", err)
		return p.getFirstByte(ctx, tmpl)
	}
	return 0, err // may be cured by trying again
}

// errInconclusiveHead says that HEAD succeeded without telling the size or that the
// server serves ranges.
var errInconclusiveHead = errors.New("HEAD does not tell")

// head asks for the object's size and whether the server serves ranges of it with HEAD.
func (p *Plugin) head(ctx context.Context, tmpl *requestTemplate) (int64, error) {
	req, err := tmpl.newRequest(ctx, http.MethodHead, p.url)
	if err != nil {
		return 0, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return 0, newStatusError(req, resp)
	case resp.ContentLength < 0:
		return 0, errors.Join(errInconclusiveHead, errors.New("no Content-Length"))
	case !acceptsByteRanges(resp.Header):
		return 0, errors.Join(errInconclusiveHead, errors.New("no \"Accept-Ranges: bytes\""))
	}
	return resp.ContentLength, nil
}

// acceptsByteRanges reports whether a header says "Accept-Ranges: bytes".
func acceptsByteRanges(h http.Header) bool {
	for _, v := range h.Values("Accept-Ranges") {
		for unit := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(unit), "bytes") {
				return true
			}
		}
	}
	return false
}

// getFirstByte asks for the object's first byte, and returns the size the answer gives.
func (p *Plugin) getFirstByte(ctx context.Context, tmpl *requestTemplate) (int64, error) {
	req, err := tmpl.newRequest(ctx, http.MethodGet, p.url)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Range", "bytes=0-0")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	where := req.Method + " " + resp.Request.URL.Redacted()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		r, err := parseContentRange(resp.Header.Get("Content-Range"))
		switch {
		case err != nil:
			return 0, protocolErrorf("%s: %v", where, err)
		case r.unsatisfied || r.first != 0 || r.last != 0:
			return 0, protocolErrorf("%s: asked for byte 0, the server answered Content-Range %q", where, resp.Header.Get("Content-Range"))
		case r.size < 0:
			return 0, protocolErrorf("%s: the server does not say how large the object is (Content-Range %q)", where, resp.Header.Get("Content-Range"))
		}
		// Reading the byte lets the connection serve the next request.
		if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10)); err != nil {
			p.log.Debug("reading the first byte", "err", err)
		}
		return r.size, nil
	case http.StatusRequestedRangeNotSatisfiable:
		// An empty object has no first byte.
		if r, err := parseContentRange(resp.Header.Get("Content-Range")); err == nil && r.unsatisfied && r.size == 0 {
			return 0, nil
		}
		return 0, newStatusError(req, resp)
	case http.StatusOK:
		if resp.ContentLength == 0 {
			return 0, nil // an empty object, whose ranges the server had no need of
		}
		return 0, protocolErrorf("%s: the server ignores Range requests (it answered %s with the whole object to a request for its first byte): gonbd reads the object by ranges and needs a server that serves them", where, resp.Status)
	}
	return 0, newStatusError(req, resp)
}
