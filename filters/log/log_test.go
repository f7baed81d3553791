package logfilter

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestQuoting(t *testing.T) {
	// What nbdkit 1.32 wrote for these export names.
	for in, want := range map[string]string{
		"":                `""`,
		"foo":             `foo`,
		"a/b:c,d=e.f-g_h": `a/b:c,d=e.f-g_h`,
		"a b$c\"d\\e`f":   `"a b\$c\"d\\e\` + "`" + `f"`,
		"it's":            `"it's"`,
	} {
		if got := string(appendQuoted(nil, in)); got != want {
			t.Errorf("appendQuoted(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestExtentsAndResults(t *testing.T) {
	b := appendExtents(nil, []server.Extent{
		{Offset: 0, Length: 0x1000, Type: server.ExtentData},
		{Offset: 0x1000, Length: 0x7000, Type: server.ExtentHole | server.ExtentZero},
		{Offset: 0x8000, Length: 0x10, Type: server.ExtentZero},
		{Offset: 0x8010, Length: 0x10, Type: server.ExtentHole},
	})
	b = appendResult(b, nil)
	want := `extents=(0x0 0x1000 "" 0x1000 0x7000 "hole,zero" 0x8000 0x10 "zero" 0x8010 0x10 "hole") return=0`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	for err, want := range map[error]string{
		server.Errorf(syscall.ENOSPC, "full"): "return=-1 error=ENOSPC",
		syscall.EROFS:                         "return=-1 error=EPERM",
		os.ErrClosed:                          "return=-1 error=EIO",
	} {
		if got := string(appendResult(nil, err)); got != want {
			t.Errorf("appendResult(%v) = %s, want %s", err, got, want)
		}
	}
}

func TestParams(t *testing.T) {
	d := servertest.NewDisk(4096)
	if _, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, "logappend=maybe"); err == nil ||
		!strings.Contains(err.Error(), "logappend=maybe") || !strings.HasPrefix(err.Error(), "log: ") {
		t.Errorf("logappend=maybe: %v", err)
	}
	layer, err := servertest.Stack(d.Spec(), []server.FilterSpec{Spec()}, "logfile=/nonexistent/dir/log")
	if err != nil {
		t.Fatal(err)
	}
	if err := layer.GetReady(context.Background()); err == nil || !strings.Contains(err.Error(), "/nonexistent/dir/log") {
		t.Errorf("GetReady with a logfile in a missing directory: %v", err)
	}
	// Without a file or a script, the filter is not there at all.
	if next := d.Layer(); New(next, Options{}) != next {
		t.Error("without a file or a script, New did not return the next layer")
	}
}

// requests drive both servers the same way. Writes fail: the disk behind gonbd fails
// them, and nbdkit's error filter does.
var requests = []string{
	"import errno",
	"h.pread(512, 0)",
	"try:\n    h.pwrite(b'x' * 512, 4096)\n    assert False\nexcept nbd.Error as e:\n    assert e.errnum == errno.ENOSPC",
	"h.trim(4096, 8192)",
	"h.trim(4096, 8192, nbd.CMD_FLAG_FUA)",
	"h.zero(4096, 0, nbd.CMD_FLAG_FUA)",
	"h.zero(4096, 0, nbd.CMD_FLAG_NO_HOLE)",
	"h.flush()",
	"h.cache(4096, 0)",
	"h.block_status(1 << 20, 0, lambda *a: 0)",
	"h.block_status(1 << 20, 0, lambda *a: 0, nbd.CMD_FLAG_REQ_ONE)",
	"h.pread(4096, 1 << 19)",
}

var (
	timestamp   = regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} `)
	connectArgs = regexp.MustCompile(`(?m) Connect .*$`)
	connectKeys = regexp.MustCompile(`=[^ ]*`)
)

// shapes masks the timestamps of a log, and the values of the Connect line, which
// depend on the plugin.
func shapes(log string) string {
	log = timestamp.ReplaceAllString(log, "TS ")
	return connectArgs.ReplaceAllStringFunc(log, func(args string) string {
		return connectKeys.ReplaceAllString(args, "=V")
	})
}

func TestEndToEndAsNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	dir := t.TempDir()
	logfile := filepath.Join(dir, "gonbd.log")
	d := servertest.NewDisk(1 << 20)
	d.Fault = func(op string, off, length int64) error {
		if op == "write" {
			return server.Errorf(syscall.ENOSPC, "disk full")
		}
		return nil
	}
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, "logfile="+logfile)
	servertest.Nbdsh(t, s.URI(), requests...)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(logfile)
	if err != nil {
		t.Fatal(err)
	}
	want := `TS Ready thread_model=3
TS Preconnect id=1 readonly=0 ...
TS ...Preconnect id=1 return=0
TS connection=1 Connect export="" tls=0 size=0x100000 minsize=0x0 prefsize=0x0 maxsize=0x0 write=1 flush=1 rotational=0 trim=1 zero=2 fua=2 extents=1 cache=2 fast_zero=0
TS connection=1 Read id=1 offset=0x0 count=0x200 ...
TS connection=1 ...Read id=1 return=0
TS connection=1 Write id=2 offset=0x1000 count=0x200 fua=0 ...
TS connection=1 ...Write id=2 return=-1 error=ENOSPC
TS connection=1 Trim id=3 offset=0x2000 count=0x1000 fua=0 ...
TS connection=1 ...Trim id=3 return=0
TS connection=1 Trim id=4 offset=0x2000 count=0x1000 fua=1 ...
TS connection=1 ...Trim id=4 return=0
TS connection=1 Zero id=5 offset=0x0 count=0x1000 trim=1 fua=1 fast=0 ...
TS connection=1 ...Zero id=5 return=0
TS connection=1 Zero id=6 offset=0x0 count=0x1000 trim=0 fua=0 fast=0 ...
TS connection=1 ...Zero id=6 return=0
TS connection=1 Flush id=7 ...
TS connection=1 ...Flush id=7 return=0
TS connection=1 Cache id=8 offset=0x0 count=0x1000 ...
TS connection=1 ...Cache id=8 return=0
TS connection=1 Extents id=9 offset=0x0 count=0x100000 req_one=0 ...
TS connection=1 ...Extents id=9 extents=(0x0 0x100000 "hole,zero") return=0
TS connection=1 Extents id=10 offset=0x0 count=0x100000 req_one=1 ...
TS connection=1 ...Extents id=10 extents=(0x0 0x100000 "hole,zero") return=0
TS connection=1 Read id=11 offset=0x80000 count=0x1000 ...
TS connection=1 ...Read id=11 return=0
TS connection=1 Disconnect transactions=11
`
	if masked := timestamp.ReplaceAllString(string(got), "TS "); masked != want {
		t.Errorf("gonbd's log:\n%s\nwant:\n%s", masked, want)
	}

	nbdkit, err := exec.LookPath("nbdkit")
	if err != nil {
		t.Log("nbdkit is not installed: not compared")
		return
	}
	reference := filepath.Join(dir, "nbdkit.log")
	sock := filepath.Join(dir, "nbdkit.sock")
	cmd := exec.Command(nbdkit, "-f", "--exit-with-parent", "-U", sock, "--filter=log", "--filter=error",
		"memory", "1M", "logfile="+reference, "error=ENOSPC", "error-pwrite-rate=100%")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nbdkit did not start")
		}
	}
	servertest.Nbdsh(t, "nbd+unix:///?socket="+sock, requests...)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	ref, err := os.ReadFile(reference)
	if err != nil {
		t.Fatal(err)
	}
	if shapes(string(got)) != shapes(string(ref)) {
		t.Errorf("gonbd's log:\n%s\nnbdkit's:\n%s", got, ref)
	}
}

func TestLogScript(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "bash")
	out := filepath.Join(t.TempDir(), "script.out")
	d := servertest.NewDisk(1 << 20)
	d.Fault = func(op string, off, length int64) error {
		if op == "read" && off == 4096 {
			return server.Errorf(syscall.EIO, "bad sector")
		}
		return nil
	}
	script := `echo "$type|$act|$connection|$id|$offset|$count|$fua|$return|$error|${extents[*]}|$export|$thread_model|$transactions" >> ` + out
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{Spec()}, "logscript="+script)
	servertest.Nbdsh(t, s.URI(),
		"h.pwrite(b'x' * 512, 0, nbd.CMD_FLAG_FUA)",
		"try:\n    h.pread(512, 4096)\n    assert False\nexcept nbd.Error:\n    pass",
		"h.block_status(8192, 0, lambda *a: 0)",
	)
	if err := s.Stop(); err != nil { // runs the queued scripts
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// export="" is an empty $export; extents=(...) is a bash array.
	want := `PRINT|Ready||||||||||3|
ENTER|Preconnect||1|||||||||
LEAVE|Preconnect||1||||0|||||
PRINT|Connect|1||||2|||1|||
ENTER|Write|1|1|0x0|0x200|1||||||
LEAVE|Write|1|1||||0|||||
ENTER|Read|1|2|0x1000|0x200|||||||
LEAVE|Read|1|2||||-1|EIO||||
ENTER|Extents|1|3|0x0|0x2000|||||||
LEAVE|Extents|1|3||||0||0x0 0x1000  0x1000 0x1000 hole,zero|||
PRINT|Disconnect|1||||||||||3
`
	if string(got) != want {
		t.Errorf("script saw:\n%s\nwant:\n%s", got, want)
	}
}
