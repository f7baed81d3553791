//go:build cgo && unix

package cabi

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// syncBuffer is a bytes.Buffer safe for a logger used from several threads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// probe calls one of nbdkit's functions through testdata/probe.c and returns what
// the plugin logged, or the error.
func probe(t *testing.T, l *Library, log *syncBuffer, key, value string) (string, error) {
	t.Helper()
	before := len(log.String())
	err := l.Configure([]server.Param{{Key: key, Value: value}})
	return log.String()[before:], err
}

func TestServerFunctions(t *testing.T) {
	var log syncBuffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := load(t, "probe", Options{Logger: logger})

	dir := t.TempDir()
	passwordFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(passwordFile, []byte("s3cret\nignored"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := []struct{ key, value, want string }{
		{"int", "-42", "int=-42"},
		{"int", "0x10", "int=16"},
		{"int", "010", "int=8"},
		{"unsigned", "4294967295", "unsigned=4294967295"},
		{"int8_t", "-128", "int8_t=-128"},
		{"uint8_t", "255", "uint8_t=255"},
		{"int16_t", "32767", "int16_t=32767"},
		{"uint16_t", "65535", "uint16_t=65535"},
		{"int32_t", "-2147483648", "int32_t=-2147483648"},
		{"uint32_t", "0xffffffff", "uint32_t=4294967295"},
		{"int64_t", "-9223372036854775808", "int64_t=-9223372036854775808"},
		{"uint64_t", "18446744073709551615", "uint64_t=18446744073709551615"},
		{"size", "1M", "size=1048576"},
		{"size", "2s", "size=1024"},
		{"bool", "on", "bool=1"},
		{"bool", "FALSE", "bool=0"},
		{"password", "plain", "password=plain"},
		{"password", "+" + passwordFile, "password=s3cret"},
		{"realpath", dir + "/../" + filepath.Base(dir), "realpath=" + dir},
		{"abspath", "x/y", "abspath=" + mustGetwd(t) + "/x/y"},
		{"intern", "abcdef", "intern=abc"},
		{"sleep", "", "sleep=ok stdio_safe=1"},
	}
	for _, tt := range good {
		got, err := probe(t, l, &log, tt.key, tt.value)
		if err != nil || !strings.Contains(got, fmt.Sprintf("msg=%q", tt.want)) && !strings.Contains(got, "msg="+tt.want+" ") {
			t.Errorf("%s(%q): log %q, error %v; want %q", tt.key, tt.value, got, err, tt.want)
		}
	}
	bad := []struct{ key, value, want string }{
		{"int8_t", "128", "int8_t: could not parse number: \"128\""},
		{"uint8_t", "-1", "negative numbers are not allowed"},
		{"int", "", "could not parse number"},
		{"int", "12abc", "trailing garbage"},
		{"uint64_t", "18446744073709551616", "could not parse number"},
		{"size", "-1", "size"},
		{"bool", "maybe", "could not decipher boolean (maybe)"},
		{"password", "+" + filepath.Join(dir, "absent"), "absent"},
		{"realpath", filepath.Join(dir, "absent"), "realpath: " + filepath.Join(dir, "absent")},
		{"abspath", "", "cannot convert null or empty path"},
		{"nosuch", "", "probe: unknown function nosuch"},
	}
	for _, tt := range bad {
		_, err := probe(t, l, &log, tt.key, tt.value)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s(%q): %v, want an error containing %q", tt.key, tt.value, err, tt.want)
		}
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

func TestConnectionFunctions(t *testing.T) {
	servertest.EndToEnd(t, "nbdinfo")
	l := load(t, "probe", Options{})
	s := servertest.StartStack(t, l.Spec(), nil)
	uri := strings.Replace(s.URI(), "nbd+unix:///", "nbd+unix:///myexport", 1)
	out := servertest.MustRun(t, "nbdinfo", "--json", uri).Stdout
	// On a Unix socket: family AF_UNIX, and the client's credentials, which are
	// nbdinfo's: this test's uid and gid.
	want := "name=myexport tls=0 family=1 pid="
	if !strings.Contains(out, want) || !strings.Contains(out, fmt.Sprintf(" uid=%d gid=%d", os.Getuid(), os.Getgid())) {
		t.Errorf("export description from the connection functions:\n%s", out)
	}
	// nbdkit_shutdown from a callback stops the server.
	servertest.Run(t, "nbdinfo", strings.Replace(s.URI(), "nbd+unix:///", "nbd+unix:///shutdown", 1))
	select {
	case <-s.Engine.ShutdownRequested():
	case <-time.After(servertest.Timeout):
		t.Error("nbdkit_shutdown in open did not shut the server down")
	}
}
