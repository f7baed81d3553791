package server_test

// End-to-end tests with real NBD clients (libnbd's nbdsh, nbdinfo, nbdcopy; qemu-io and
// qemu-img) against the in-process server. They skip when a client is missing, unless
// GONBD_REQUIRE_CLIENTS=1, and under -short.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server"
)

// needClient skips the test when name is not installed (failing it instead when
// GONBD_REQUIRE_CLIENTS=1), and under -short.
func needClient(t *testing.T, names ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test skipped in short mode")
	}
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("GONBD_REQUIRE_CLIENTS") == "1" {
				t.Fatalf("%s is required (GONBD_REQUIRE_CLIENTS=1): %v", name, err)
			}
			t.Skipf("%s is not installed", name)
		}
	}
}

// runClient runs a client to completion, with a timeout, and returns its output.
func runClient(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	// nbdsh needs the system python, which has the nbd module.
	cmd.Env = append(os.Environ(), "PATH=/usr/bin:"+os.Getenv("PATH"))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func nbdURI(path, export string) string { return "nbd+unix:///" + export + "?socket=" + path }

func sha(p []byte) string { return fmt.Sprintf("%x", sha256.Sum256(p)) }

func randomFile(t *testing.T, n int) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "random.img")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func TestQemuIO(t *testing.T) {
	needClient(t, "qemu-io")
	d := newTestDisk(16 << 20)
	path := startServer(t, d.layer(), server.Options{})
	out := runClient(t, nil, "qemu-io", "-f", "raw",
		"-c", "write -P 0xab 0 3M",
		"-c", "read -P 0xab 0 3M",
		"-c", "write -z 1M 512k",
		"-c", "read -P 0 1M 512k",
		"-c", "discard 2M 1M",
		"-c", "read -P 0 2M 1M",
		"-c", "read -P 0xab 1536k 512k",
		"-c", "write -f -P 0xcd 8M 4k",
		"-c", "flush",
		nbdURI(path, ""))
	if strings.Contains(out, "verification failed") || strings.Contains(out, "error") {
		t.Fatalf("qemu-io:\n%s", out)
	}
	want := bytes.Repeat([]byte{0xab}, 3<<20)
	clear(want[1<<20 : 1536<<10])
	clear(want[2<<20:])
	if !bytes.Equal(d.contents(0, 3<<20), want) {
		t.Error("the disk does not hold what qemu-io wrote")
	}
	if !bytes.Equal(d.contents(8<<20, 4096), bytes.Repeat([]byte{0xcd}, 4096)) {
		t.Error("the FUA write did not land")
	}
}

func TestQemuImgConvert(t *testing.T) {
	needClient(t, "qemu-img")
	d := newTestDisk(8 << 20)
	path := startServer(t, d.layer(), server.Options{})
	in, data := randomFile(t, 8<<20)
	runClient(t, nil, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", in, nbdURI(path, ""))
	if sha(d.contents(0, 8<<20)) != sha(data) {
		t.Fatal("qemu-img convert into the server: checksum differs")
	}
	out := filepath.Join(t.TempDir(), "out.img")
	runClient(t, nil, "qemu-img", "convert", "-f", "raw", "-O", "raw", nbdURI(path, ""), out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if sha(got) != sha(data) {
		t.Fatal("qemu-img convert out of the server: checksum differs")
	}
}

func TestNbdcopy(t *testing.T) {
	needClient(t, "nbdcopy")
	d := newTestDisk(8 << 20)
	path := startServer(t, d.layer(), server.Options{})
	in, data := randomFile(t, 8<<20)
	runClient(t, nil, "nbdcopy", in, nbdURI(path, ""))
	if sha(d.contents(0, 8<<20)) != sha(data) {
		t.Fatal("nbdcopy into the server: checksum differs")
	}
	// Make a hole, so that the copy out goes through sparse reads.
	d.zero(1<<20, 2<<20)
	clear(data[1<<20 : 3<<20])
	out := filepath.Join(t.TempDir(), "out.img")
	runClient(t, nil, "nbdcopy", nbdURI(path, ""), out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if sha(got) != sha(data) {
		t.Fatal("nbdcopy out of the server: checksum differs")
	}
}

func TestNbdinfo(t *testing.T) {
	needClient(t, "nbdinfo")
	d := newTestDisk(1 << 20)
	d.description = "engine test disk"
	d.exports = []server.Export{{Name: "alpha", Description: "first"}, {Name: "beta", Description: "second"}}
	d.write(pattern(32<<10, 1), 64<<10)
	d.write(pattern(4096, 2), 512<<10)
	path := startServer(t, d.layer(), server.Options{})

	var info struct {
		Protocol   string `json:"protocol"`
		Structured bool   `json:"structured"`
		Exports    []struct {
			Name         string   `json:"export-name"`
			Description  string   `json:"description"`
			Size         int64    `json:"export-size"`
			Contexts     []string `json:"contexts"`
			ReadOnly     bool     `json:"is_read_only"`
			CanFlush     bool     `json:"can_flush"`
			CanFUA       bool     `json:"can_fua"`
			CanTrim      bool     `json:"can_trim"`
			CanZero      bool     `json:"can_zero"`
			CanFastZero  bool     `json:"can_fast_zero"`
			CanMultiConn bool     `json:"can_multi_conn"`
			CanDF        bool     `json:"can_df"`
			CanCache     bool     `json:"can_cache"`
		} `json:"exports"`
	}
	out := runClient(t, nil, "nbdinfo", "--json", nbdURI(path, "alpha"))
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("nbdinfo --json: %v\n%s", err, out)
	}
	if info.Protocol != "newstyle-fixed" || !info.Structured || len(info.Exports) != 1 {
		t.Fatalf("nbdinfo --json:\n%s", out)
	}
	e := info.Exports[0]
	if e.Name != "alpha" || e.Description != "engine test disk" || e.Size != 1<<20 || e.ReadOnly ||
		!e.CanFlush || !e.CanFUA || !e.CanTrim || !e.CanZero || !e.CanFastZero || !e.CanMultiConn || !e.CanDF || !e.CanCache ||
		len(e.Contexts) != 1 || e.Contexts[0] != "base:allocation" {
		t.Errorf("nbdinfo --json:\n%s", out)
	}

	out = runClient(t, nil, "nbdinfo", "--map", nbdURI(path, ""))
	want := fmt.Sprintf("%10d  %10d  %3d  %s\n", 0, 64<<10, 3, "hole,zero") +
		fmt.Sprintf("%10d  %10d  %3d  %s\n", 64<<10, 32<<10, 0, "data") +
		fmt.Sprintf("%10d  %10d  %3d  %s\n", 96<<10, 416<<10, 3, "hole,zero") +
		fmt.Sprintf("%10d  %10d  %3d  %s\n", 512<<10, 4096, 0, "data") +
		fmt.Sprintf("%10d  %10d  %3d  %s\n", 516<<10, 508<<10, 3, "hole,zero")
	if normalizeSpaces(out) != normalizeSpaces(want) {
		t.Errorf("nbdinfo --map:\n%s\nwant:\n%s", out, want)
	}

	out = runClient(t, nil, "nbdinfo", "--list", "--json", nbdURI(path, ""))
	var list struct {
		Exports []struct {
			Name        string `json:"export-name"`
			Description string `json:"export-description"`
		} `json:"exports"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("nbdinfo --list --json: %v\n%s", err, out)
	}
	if len(list.Exports) != 2 || list.Exports[0].Name != "alpha" || list.Exports[1].Name != "beta" {
		t.Errorf("nbdinfo --list:\n%s", out)
	}
}

func normalizeSpaces(s string) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(lines, "\n")
}

func TestNbdsh(t *testing.T) {
	needClient(t, "nbdsh")
	d := newTestDisk(64 << 20)
	path := startServer(t, d.layer(), server.Options{})
	script, err := filepath.Abs("testdata/engine_nbdsh.py")
	if err != nil {
		t.Fatal(err)
	}
	out := runClient(t, []string{"GONBD_URI=" + nbdURI(path, "")}, "nbdsh", "--base-allocation", "-u", nbdURI(path, ""),
		"-c", fmt.Sprintf("exec(open(%q).read())", script))
	if strings.TrimSpace(out) != "OK" {
		t.Fatalf("nbdsh:\n%s", out)
	}
	if string(d.contents(2<<20, 17)) != "second connection" {
		t.Error("the second connection's write is not on the disk")
	}
	if d.count("zero") != 2 || d.count("trim") != 1 || d.count("cache") != 1 || d.count("flush") < 3 {
		t.Errorf("calls: zero %d trim %d cache %d flush %d", d.count("zero"), d.count("trim"), d.count("cache"), d.count("flush"))
	}
}

// TestQemuExtendedHeaders checks that qemu negotiates extended headers with the server
// and uses 64-bit lengths on a 1 TiB export.
func TestQemuExtendedHeaders(t *testing.T) {
	needClient(t, "qemu-io", "qemu-img")
	const size = 1 << 40
	d := newTestDisk(size)
	d.write(pattern(4096, 1), 6<<30)
	d.write(pattern(4096, 2), 2<<30)
	d.write(pattern(4096, 3), 5<<30-4096)
	var log logBuffer
	path := startServer(t, d.layer(), server.Options{Logger: log.logger()})
	// qemu-io takes zero requests over 2 GiB only with -n (no slow fallback, which is
	// NBD_CMD_FLAG_FAST_ZERO), and caps discard at 2 GiB - 512: three cover 5 GiB.
	out := runClient(t, nil, "qemu-io", "-f", "raw", "-c", "write -z -n -u 0 5G",
		"-c", "read -P 0 2G 4k", "-c", "write -P 0x55 2G 4k",
		"-c", "discard 0 2047M", "-c", "discard 2047M 2047M", "-c", "discard 4094M 1026M",
		"-c", "read -P 0 2G 4k", nbdURI(path, ""))
	if strings.Contains(out, "error") || strings.Contains(out, "failed") {
		t.Fatalf("qemu-io:\n%s", out)
	}
	var extended bool
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, "msg=transmission") && strings.Contains(l, "extended=true") {
			extended = true
		}
	}
	if !extended {
		t.Fatalf("qemu did not negotiate extended headers; log:\n%s", log.String())
	}
	t.Logf("qemu-io: %d zero requests (max %d bytes) and %d trim requests for 5 GiB each", d.count("zero"), d.maxZero.Load(), d.count("trim"))
	if d.maxZero.Load() <= 4<<30 {
		t.Errorf("the largest zero request was %d bytes: qemu did not use a 64-bit length", d.maxZero.Load())
	}
	if d.count("zero") == 0 || d.count("trim") == 0 {
		t.Errorf("zero %d, trim %d calls", d.count("zero"), d.count("trim"))
	}

	out = runClient(t, nil, "qemu-img", "map", "--output=json", "-f", "raw", nbdURI(path, ""))
	var entries []struct {
		Start, Length int64
		Data, Zero    bool
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("qemu-img map: %v\n%s", err, out)
	}
	// Merge neighbours of the same kind; qemu may split where it likes.
	type span struct {
		start, length int64
		data          bool
	}
	var spans []span
	var pos int64
	for _, e := range entries {
		if e.Start != pos {
			t.Fatalf("qemu-img map: gap at %d:\n%s", pos, out)
		}
		pos += e.Length
		if n := len(spans); n > 0 && spans[n-1].data == e.Data {
			spans[n-1].length += e.Length
			continue
		}
		spans = append(spans, span{e.Start, e.Length, e.Data})
	}
	want := []span{{0, 6 << 30, false}, {6 << 30, 4096, true}, {6<<30 + 4096, size - 6<<30 - 4096, false}}
	if pos != size || fmt.Sprint(spans) != fmt.Sprint(want) {
		t.Errorf("qemu-img map: %v, want %v\n%s", spans, want, out)
	}
}
