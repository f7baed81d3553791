package curl

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// loadCookieFile puts the cookies of a cookie file into jar. The file is in the
// Netscape format that curl, wget and browsers' exporters write: one cookie a line,
// seven fields separated by tabs (domain, whether subdomains match, path, whether the
// cookie is secure, expiry in Unix time or 0 for a session cookie, name, value), with
// "#HttpOnly_" before the domain of HTTP-only cookies and "#" starting comments. Lines
// "Set-Cookie: ..." with a Domain attribute are accepted too, as libcurl accepts them.
func loadCookieFile(jar http.CookieJar, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(nil, len(data)+1)
	for n := 1; scanner.Scan(); n++ {
		line := strings.TrimRight(scanner.Text(), "\r")
		u, cookie, err := parseCookieLine(line)
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if cookie != nil {
			jar.SetCookies(u, []*http.Cookie{cookie})
		}
	}
	return scanner.Err()
}

// parseCookieLine parses one line of a cookie file into the cookie and the URL it was
// set for. Comments and blank lines give a nil cookie.
func parseCookieLine(line string) (*url.URL, *http.Cookie, error) {
	const httpOnlyPrefix = "#HttpOnly_"
	httpOnly := strings.HasPrefix(line, httpOnlyPrefix)
	if httpOnly {
		line = line[len(httpOnlyPrefix):]
	}
	switch {
	case strings.TrimSpace(line) == "", !httpOnly && strings.HasPrefix(line, "#"):
		return nil, nil, nil
	case len(line) > len("Set-Cookie:") && strings.EqualFold(line[:len("Set-Cookie:")], "Set-Cookie:"):
		return parseSetCookieLine(strings.TrimSpace(line[len("Set-Cookie:"):]))
	}
	fields := strings.Split(line, "\t")
	if len(fields) == 6 {
		fields = append(fields, "") // a cookie with an empty value
	}
	if len(fields) != 7 {
		return nil, nil, fmt.Errorf("expected 7 fields separated by tabs (Netscape cookie file format), found %d", len(fields))
	}
	domain, subdomains, path, secure, expires, name, value := fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6]
	includeSubdomains, err := parseCookieFlag(subdomains)
	if err != nil {
		return nil, nil, fmt.Errorf("field 2 (whether subdomains match): %w", err)
	}
	isSecure, err := parseCookieFlag(secure)
	if err != nil {
		return nil, nil, fmt.Errorf("field 4 (whether the cookie is secure): %w", err)
	}
	expiry, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		return nil, nil, fmt.Errorf("field 5 (expiry): %q is not a Unix time", expires)
	}
	host := strings.TrimPrefix(domain, ".")
	if host == "" {
		return nil, nil, fmt.Errorf("field 1 (domain) is empty")
	}
	cookie := &http.Cookie{Name: name, Value: value, Path: path, Secure: isSecure, HttpOnly: httpOnly}
	if includeSubdomains {
		cookie.Domain = host
	}
	if expiry > 0 {
		cookie.Expires = time.Unix(expiry, 0)
	}
	scheme := "http"
	if isSecure {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: host, Path: path}, cookie, nil
}

// parseSetCookieLine parses the value of a Set-Cookie line of a cookie file, which
// must name its domain since no request tells it.
func parseSetCookieLine(value string) (*url.URL, *http.Cookie, error) {
	cookie, err := http.ParseSetCookie(value)
	if err != nil {
		return nil, nil, fmt.Errorf("Set-Cookie: %w", err)
	}
	if cookie.Domain == "" {
		return nil, nil, fmt.Errorf("Set-Cookie: cookie %s has no Domain attribute, so which server it is for is unknown", cookie.Name)
	}
	scheme := "http"
	if cookie.Secure {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: strings.TrimPrefix(cookie.Domain, "."), Path: cookie.Path}, cookie, nil
}

// parseCookieFlag parses the TRUE and FALSE of the Netscape format.
func parseCookieFlag(s string) (bool, error) {
	switch strings.ToUpper(s) {
	case "TRUE":
		return true, nil
	case "FALSE":
		return false, nil
	}
	return false, fmt.Errorf("%q is neither TRUE nor FALSE", s)
}
