package main

// End-to-end tests of the file plugin through the gonbd binary.

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestE2EPluginFile(t *testing.T) {
	e2eStart(t, "qemu-img", "qemu-io", "nbdsh")
	dir := t.TempDir()
	disk, sum := e2eRandomFile(t, dir, 16*e2eMiB)

	s := e2eUnix(t, "file", disk)
	out := filepath.Join(dir, "out.img")
	e2eMustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI, out)
	if got, _ := e2eFileSHA256(t, out); got != sum {
		t.Errorf("copied out: SHA-256 %s, want %s", got, sum)
	}
	e2eQemuIO(t, s.URI, "write -P 0x3c 1000 5000", "write -z -u 1m 1m", "flush", "read -P 0x3c 1000 5000", "read -P 0 1m 1m")
	data, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data[1000:6000], bytes.Repeat([]byte{0x3c}, 5000)) || !bytes.Equal(data[e2eMiB:2*e2eMiB], make([]byte, e2eMiB)) {
		t.Error("the file does not hold what qemu-io wrote")
	}

	// -r: read-only, whatever the file allows.
	ro := e2eUnix(t, "-r", "file", "file="+disk, "cache=none", "fadvise=random")
	e2eNbdsh(t, []string{"GONBD_URI=" + ro.URI}, `
import os
h = nbd.NBD()
h.connect_uri(os.environ["GONBD_URI"])
assert h.is_read_only() and h.get_size() == 16 << 20
assert h.pread(5000, 1000) == b"\x3c" * 5000
`)
}

func TestE2EPluginFileDir(t *testing.T) {
	e2eStart(t, "nbdinfo", "qemu-io")
	dir := t.TempDir()
	for name, size := range map[string]int{"alpha.img": 4096, "beta.img": 8192} {
		if err := os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte{byte(size >> 12)}, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := e2eUnix(t, "file", "dir="+dir)
	r := e2eMustRun(t, "nbdinfo", "--list", "--json", s.URI)
	var list struct {
		Exports []struct {
			Name string `json:"export-name"`
		} `json:"exports"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
		t.Fatalf("nbdinfo --list --json: %v\n%s", err, r.Stdout)
	}
	var names []string
	for _, e := range list.Exports {
		names = append(names, e.Name)
	}
	slices.Sort(names)
	if want := []string{"alpha.img", "beta.img"}; !slices.Equal(names, want) {
		t.Errorf("exports %v, want %v", names, want)
	}
	e2eQemuIO(t, "nbd+unix:///beta.img?socket="+s.Socket, "read -P 2 0 8k")
	if r := e2eRun(t, "nbdinfo", "nbd+unix:///subdir?socket="+s.Socket); r.Code == 0 {
		t.Errorf("nbdinfo opened the subdirectory as an export: %s", r)
	}
}

// TestE2EPluginFileFD serves a file the test opens and passes to gonbd as its
// descriptor 3, as a parent process does.
func TestE2EPluginFileFD(t *testing.T) {
	e2eStart(t, "qemu-io")
	if e2eNbdkit() {
		t.Skip("nbdkit 1.32 has no fd= (it came in 1.34)")
	}
	disk, _ := e2eRandomFile(t, t.TempDir(), e2eMiB)
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sock := filepath.Join(t.TempDir(), "sock")
	cmd := exec.Command(e2eServerBinary(t), "-f", "-U", sock, "file", "fd=3")
	cmd.ExtraFiles = []*os.File{f} // descriptor 3 in the child
	cmd.Env = e2eEnv()
	stderr := new(e2eBuffer)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(e2eStartTimeout); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gonbd file fd=3 does not listen:\n%s", stderr)
		}
	}
	e2eQemuIO(t, "nbd+unix:///?socket="+sock, "write -P 0x5a 4k 4k", "flush", "read -P 0x5a 4k 4k")
	got := make([]byte, 4096)
	if _, err := f.ReadAt(got, 4096); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bytes.Repeat([]byte{0x5a}, 4096)) {
		t.Error("the write did not reach the file behind the descriptor")
	}
}

func TestE2EPluginFileBadParameters(t *testing.T) {
	e2eStart(t)
	bin := e2eServerBinary(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "sock")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"file", "/nonexistent"}, "file: file=/nonexistent: no such file or directory"},
		{[]string{"file", dir}, "is a directory: use dir="},
		{[]string{"file", "dir=/nonexistent"}, "dir=/nonexistent: no such file or directory"},
		{[]string{"file"}, "missing parameter"},
		{[]string{"file", "file=" + sock + "x", "dir=" + dir}, "only one of file=, dir="},
		{[]string{"file", "dir=" + dir, "cache=banana"}, "cache=banana: unknown cache mode"},
		{[]string{"file", "dir=" + dir, "fadvise=often"}, "fadvise=often: unknown access pattern"},
		{[]string{"file", "fd=99"}, "fd=99: bad file descriptor"},
	} {
		r := e2eRun(t, bin, append([]string{"-f", "-U", sock}, tt.args...)...)
		if r.Code != 1 || (!e2eNbdkit() && !strings.Contains(r.Stderr, tt.want)) {
			t.Errorf("gonbd %q: %s\nwant exit status 1 and %q", tt.args, r, tt.want)
		}
	}
}
