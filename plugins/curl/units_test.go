package curl

import (
	"net/http"
	"strings"
	"testing"
)

func TestParseContentRange(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want byteRange
	}{
		{"bytes 0-0/1", byteRange{first: 0, last: 0, size: 1}},
		{"bytes 100-199/8192", byteRange{first: 100, last: 199, size: 8192}},
		{"Bytes 5-9/*", byteRange{first: 5, last: 9, size: -1}},
		{"bytes */0", byteRange{size: 0, unsatisfied: true}},
		{" bytes 0-9223372036854775806/9223372036854775807 ", byteRange{first: 0, last: 1<<63 - 2, size: 1<<63 - 1}},
	} {
		got, err := parseContentRange(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("%q: %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "bytes", "items 0-1/2", "bytes 0-1", "bytes 1-0/2", "bytes 0-2/2", "bytes -1-2/3", "bytes */*", "bytes a-b/3", "bytes 0-1/-3", "bytes 0-1/x"} {
		if r, err := parseContentRange(bad); err == nil {
			t.Errorf("%q accepted as %+v", bad, r)
		}
	}
}

func TestRangeHeader(t *testing.T) {
	for _, tt := range []struct {
		off, length int64
		want        string
	}{
		{0, 1, "bytes=0-0"},
		{4096, 512, "bytes=4096-4607"},
		{1<<63 - 2, 1, "bytes=9223372036854775806-9223372036854775806"},
	} {
		if got := rangeHeader(tt.off, tt.length); got != tt.want {
			t.Errorf("rangeHeader(%d, %d) = %q, want %q", tt.off, tt.length, got, tt.want)
		}
	}
}

func TestParseHeader(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want headerEdit
	}{
		{"X-My-Name: John Doe", headerEdit{name: "X-My-Name", value: "John Doe"}},
		{"x-lower:value  \r\n", headerEdit{name: "X-Lower", value: "value"}},
		{"Authorization: Bearer a:b:c", headerEdit{name: "Authorization", value: "Bearer a:b:c"}},
		{"User-Agent:", headerEdit{name: "User-Agent", remove: true}},
		{"User-Agent:   ", headerEdit{name: "User-Agent", remove: true}},
		{"X-Empty;", headerEdit{name: "X-Empty"}},
		{"Host: disk.example", headerEdit{name: "Host", value: "disk.example"}},
	} {
		got, err := parseHeader(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("%q: %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "NoSeparator", ": value", "Bad Name: x", "X-Semi;colon", "Content-Length: 3", "Transfer-Encoding: chunked", "X-A: a\x00b"} {
		if e, err := parseHeader(bad); err == nil {
			t.Errorf("%q accepted as %+v", bad, e)
		}
	}
}

func TestTemplateHeaders(t *testing.T) {
	edits, err := parseHeaders([]string{"Cookie: replaced=1", "X-A: 1", "", "X-A: 2", "User-Agent:"})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := newTemplate(credentials{userAgent: "ua", cookie: "own=1", basicAuth: basicAuthorization("a", "b")}, edits)
	want := http.Header{
		"Cookie":        {"replaced=1"},
		"X-A":           {"1", "2"},
		"Authorization": {"Basic YTpi"},
		"User-Agent":    {""}, // removed: Go's client sends none
	}
	if len(tmpl.header) != len(want) {
		t.Errorf("headers %v, want %v", tmpl.header, want)
	}
	for name, values := range want {
		if got := strings.Join(tmpl.header.Values(name), "|"); got != strings.Join(values, "|") || len(tmpl.header[name]) != len(values) {
			t.Errorf("%s: %q, want %q", name, tmpl.header[name], values)
		}
	}
}

func TestParseCookieLine(t *testing.T) {
	u, c, err := parseCookieLine(".example.com\tTRUE\t/images\tTRUE\t2000000000\tsid\tv a l")
	if err != nil {
		t.Fatal(err)
	}
	if u.String() != "https://example.com/images" || c.Domain != "example.com" || c.Name != "sid" || c.Value != "v a l" ||
		!c.Secure || c.HttpOnly || c.Expires.Unix() != 2000000000 || c.Path != "/images" {
		t.Errorf("parsed %v and %+v", u, c)
	}
	u, c, err = parseCookieLine("#HttpOnly_host.example\tFALSE\t/\tFALSE\t0\tempty")
	if err != nil || u.Host != "host.example" || c.Domain != "" || !c.HttpOnly || c.Value != "" || !c.Expires.IsZero() {
		t.Errorf("parsed %v and %+v, %v", u, c, err)
	}
	u, c, err = parseCookieLine("Set-Cookie: a=b; Domain=example.org; Path=/; Secure")
	if err != nil || u.String() != "https://example.org/" || c.Name != "a" || c.Value != "b" {
		t.Errorf("parsed %v and %+v, %v", u, c, err)
	}
	for _, comment := range []string{"", "   ", "# Netscape HTTP Cookie File"} {
		if _, c, err := parseCookieLine(comment); c != nil || err != nil {
			t.Errorf("%q: %+v, %v; want nothing", comment, c, err)
		}
	}
	for line, want := range map[string]string{
		"a\tb":                         "expected 7 fields",
		"h\tYES\t/\tFALSE\t0\tn\tv":    "field 2",
		"h\tTRUE\t/\tNO\t0\tn\tv":      "field 4",
		"h\tTRUE\t/\tFALSE\tnow\tn\tv": "field 5",
		"\tTRUE\t/\tFALSE\t0\tn\tv":    "field 1",
		"Set-Cookie: a=b":              "no Domain",
	} {
		if _, _, err := parseCookieLine(line); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error mentioning %q", line, err, want)
		}
	}
}

func TestRedactedURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://alice:pw@example.com/a":   "http://alice:xxxxx@example.com/a",
		"http://alice:pw@example.com/%zz": "http://alice:xxxxx@example.com/%zz",
		"http://alice:pw@ex%zz":           "http://alice:xxxxx@ex%zz",
		"http://alice@ex%zz/":             "http://alice@ex%zz/",
		"no scheme %zz":                   "no scheme %zz",
	} {
		if got := redactedURL(in); got != want {
			t.Errorf("redactedURL(%q) = %q, want %q", in, got, want)
		}
	}
}
