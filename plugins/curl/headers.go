package curl

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
)

// A headerEdit is one line of header= (or of a header script's output): a header to
// send, or one of the plugin's own to leave out.
type headerEdit struct {
	name   string // in canonical form, such as "X-Token"
	value  string
	remove bool
}

// parseHeader parses a line with nbdkit's (libcurl's) syntax: "Name: value" sends a
// header, replacing one the plugin would send by itself; "Name:" leaves out a header
// the plugin would send; "Name;" sends a header with an empty value.
func parseHeader(line string) (headerEdit, error) {
	line = strings.TrimRight(line, " \t\r\n")
	var e headerEdit
	name, value, hasColon := strings.Cut(line, ":")
	switch {
	case hasColon:
		e.value = strings.TrimLeft(value, " \t")
		e.remove = e.value == ""
	case strings.HasSuffix(line, ";"):
		name = strings.TrimSuffix(line, ";")
	default:
		return e, fmt.Errorf("header %q: expected \"Name: value\", \"Name:\" (to remove a header) or \"Name;\" (for an empty value)", line)
	}
	if !isToken(name) {
		return e, fmt.Errorf("header %q: %q is not a valid header name", line, name)
	}
	if strings.ContainsAny(e.value, "\r\n\x00") {
		return e, fmt.Errorf("header %q: a header value cannot hold line breaks or NUL", line)
	}
	e.name = http.CanonicalHeaderKey(name)
	switch e.name {
	case "Range", "Content-Length", "Transfer-Encoding":
		return e, fmt.Errorf("header %q: the plugin sets %s itself", line, e.name)
	case "Host":
		if e.remove {
			return e, fmt.Errorf("header %q: HTTP/1.1 requires the Host header", line)
		}
	}
	return e, nil
}

// parseHeaders parses header lines, skipping empty ones.
func parseHeaders(lines []string) ([]headerEdit, error) {
	var edits []headerEdit
	for _, line := range lines {
		if strings.TrimSpace(line) == "" {
			continue
		}
		e, err := parseHeader(line)
		if err != nil {
			return nil, err
		}
		edits = append(edits, e)
	}
	return edits, nil
}

// isToken reports whether s is an HTTP token (RFC 9110), as header names must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// A requestTemplate is what every request of the plugin carries besides its Range:
// the headers and the Host. Requests clone the header, since the HTTP client adds to it.
type requestTemplate struct {
	header http.Header
	host   string // the Host header when a header= replaced it, else ""
}

// credentials are what the plugin sends by itself, before header= edits apply.
type credentials struct {
	userAgent string
	cookie    string
	// basicAuth is the Authorization header's value, or "".
	basicAuth string
}

// basicAuthorization returns the value of an Authorization header for HTTP basic
// authentication.
func basicAuthorization(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// newTemplate builds the headers of requests: the plugin's own, then edits in order. As
// in libcurl, the first edit of a name replaces (or removes) the plugin's header of that
// name, and further edits of it add more headers.
func newTemplate(own credentials, edits []headerEdit) *requestTemplate {
	t := &requestTemplate{header: make(http.Header, 4)}
	if own.userAgent != "" {
		t.header.Set("User-Agent", own.userAgent)
	}
	if own.cookie != "" {
		t.header.Set("Cookie", own.cookie)
	}
	if own.basicAuth != "" {
		t.header.Set("Authorization", own.basicAuth)
	}
	edited := make(map[string]bool, len(edits))
	for _, e := range edits {
		if e.name == "Host" {
			t.host = e.value
			continue
		}
		if !edited[e.name] {
			edited[e.name] = true
			t.header.Del(e.name)
		}
		if !e.remove {
			t.header.Add(e.name, e.value)
		}
	}
	if len(t.header.Values("User-Agent")) == 0 {
		// An empty User-Agent keeps Go's client from sending its own, as libcurl
		// sends none unless asked.
		t.header["User-Agent"] = []string{""}
	}
	return t
}

// newRequest returns a request of method for u with the template's headers.
func (t *requestTemplate) newRequest(ctx context.Context, method, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header = t.header.Clone()
	if t.host != "" {
		req.Host = t.host
	}
	return req, nil
}
