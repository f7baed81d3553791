package sh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

// A test script is bash that logs each call ("$@", one line per call) to a file and
// then runs the test's case statement on "$1".
type testScript struct {
	path, log string
}

// newScript writes a script whose body is the branches of a `case "$1" in` (a final
// `*) exit 2 ;;` is added) into a temporary directory.
func newScript(t *testing.T, branches string) *testScript {
	t.Helper()
	dir := t.TempDir()
	s := &testScript{path: filepath.Join(dir, "plugin.sh"), log: filepath.Join(dir, "calls.log")}
	text := "#!/bin/bash\n" +
		"echo \"$*\" >> '" + s.log + "'\n" +
		"case \"$1\" in\n" + branches + "\n*) exit 2 ;;\nesac\n"
	if err := os.WriteFile(s.path, []byte(text), 0o700); err != nil {
		t.Fatal(err)
	}
	return s
}

// calls returns the calls logged so far, one string per call.
func (s *testScript) calls(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(s.log)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return lines(string(data))
}

// methods returns the methods called so far, in order.
func (s *testScript) methods(t *testing.T) []string {
	var methods []string
	for _, c := range s.calls(t) {
		methods = append(methods, strings.Fields(c + " ")[0])
	}
	return methods
}

// newPlugin makes a plugin of the script and cleans it up when the test ends.
func newPlugin(t *testing.T, s *testScript, config ...server.Param) *Plugin {
	t.Helper()
	p, err := New(Options{Script: s.path, Config: config})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Cleanup(context.Background()) })
	return p
}

// open opens a connection's handle through the server's plugin adapter, prepared as
// the server prepares it.
func open(t *testing.T, p *Plugin, readOnly bool) server.LayerHandle {
	t.Helper()
	ctx := context.Background()
	h, err := server.PluginLayer("sh", p).Open(ctx, server.OpenRequest{ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, readOnly); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(ctx) })
	return h
}

const sizeAndRead = `get_size) echo 1M ;;
pread) dd if=/dev/zero count=$3 iflag=count_bytes status=none ;;`

func TestLifecycle(t *testing.T) {
	s := newScript(t, `config|config_complete|load|get_ready|after_fork|unload) echo "$1 $tmpdir" >> "$(dirname "$0")/tmpdirs" ;;`)
	p, err := New(Options{Script: s.path, Config: []server.Param{{Key: "file", Value: "a b"}, {Key: "x", Value: ""}}})
	if err != nil {
		t.Fatal(err)
	}
	tmpdir := p.TmpDir()
	if info, err := os.Stat(tmpdir); err != nil || !info.IsDir() {
		t.Fatalf("$tmpdir %s: %v", tmpdir, err)
	}
	if err := p.GetReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Cleanup(context.Background())
	p.Cleanup(context.Background()) // a second call does nothing

	want := []string{"load", "magic_config_key", "config file a b", "config x ", "config_complete",
		"thread_model", "get_ready", "after_fork", "unload"}
	if got := s.calls(t); !equal(got, want) {
		t.Errorf("calls:\n%q\nwant\n%q", got, want)
	}
	if _, err := os.Stat(tmpdir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("$tmpdir after Cleanup: %v, want it gone", err)
	}
	seen, err := os.ReadFile(filepath.Join(filepath.Dir(s.path), "tmpdirs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range lines(string(seen)) {
		if !strings.HasSuffix(line, " "+tmpdir) {
			t.Errorf("a script saw %q, want $tmpdir %s", line, tmpdir)
		}
	}
	if p.ThreadModel() != server.SerializeAllRequests {
		t.Errorf("thread model %v without a thread_model method, want serialize_all_requests", p.ThreadModel())
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n") && len(a) == len(b)
}

func TestThreadModel(t *testing.T) {
	for answer, want := range map[string]server.ThreadModel{
		"parallel":           server.Parallel,
		"serialize_requests": server.SerializeRequests,
		"nonsense":           server.SerializeAllRequests,
	} {
		s := newScript(t, `thread_model) echo `+answer+` ;;`)
		if got := newPlugin(t, s).ThreadModel(); got != want {
			t.Errorf("thread_model %s: got %v, want %v", answer, got, want)
		}
	}
	s := newScript(t, `thread_model) echo EINVAL no threads >&2; exit 1 ;;`)
	if _, err := New(Options{Script: s.path}); err == nil || !strings.Contains(err.Error(), "no threads") {
		t.Errorf("a failing thread_model: %v", err)
	}
}

func TestMagicConfigKey(t *testing.T) {
	s := newScript(t, `magic_config_key) echo file ;;
config) ;;`)
	newPlugin(t, s, server.Param{Key: "", Value: "disk.img"}, server.Param{Key: "size", Value: "1M"})
	calls := s.calls(t)
	if !equal(calls[2:4], []string{"config file disk.img", "config size 1M"}) {
		t.Errorf("calls %q: want the bare value given to the magic key", calls)
	}

	s = newScript(t, `config) ;;`)
	_, err := New(Options{Script: s.path, Config: []server.Param{{Value: "disk.img"}}})
	if err == nil || !strings.Contains(err.Error(), "disk.img") || !strings.Contains(err.Error(), "magic_config_key") {
		t.Errorf("a bare value without a magic key: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	s := newScript(t, ``)
	_, err := New(Options{Script: s.path, Config: []server.Param{{Key: "colour", Value: "blue"}}})
	if err == nil || !strings.Contains(err.Error(), "colour=blue") || !strings.Contains(err.Error(), "no config method") {
		t.Errorf("a parameter for a script without config: %v", err)
	}
	if methods := s.methods(t); methods[len(methods)-1] != "unload" {
		t.Errorf("calls %q: a plugin that failed to configure is unloaded", methods)
	}

	s = newScript(t, `config) echo "EINVAL $2 is not a colour" >&2; exit 1 ;;`)
	_, err = New(Options{Script: s.path, Config: []server.Param{{Key: "colour", Value: "blue"}}})
	if err == nil || !strings.Contains(err.Error(), "colour is not a colour") {
		t.Errorf("a config method that refuses: %v", err)
	}

	s = newScript(t, `load) exit 3 ;;`)
	if _, err := New(Options{Script: s.path}); err == nil || !strings.Contains(err.Error(), "load") {
		t.Errorf("load exiting 3: %v", err)
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without a script succeeded")
	}
}

func TestCapabilities(t *testing.T) {
	for _, tt := range []struct {
		name     string
		branches string
		readOnly bool
		want     server.Capabilities
	}{
		{"nothing", ``, false, server.Capabilities{}},
		{"write", `can_write) exit 0 ;;`, false,
			server.Capabilities{Write: true, Zero: true, FastZero: true}},
		{"write and flush", `can_write|can_flush) exit 0 ;;`, false,
			server.Capabilities{Write: true, Flush: true, Zero: true, FastZero: true, FUA: server.FUAEmulate}},
		{"zero", `can_write|can_zero) exit 0 ;;`, false,
			server.Capabilities{Write: true, Zero: true}},
		{"fast zero", `can_write|can_zero|can_fast_zero) exit 0 ;;`, false,
			server.Capabilities{Write: true, Zero: true, FastZero: true}},
		{"false", `can_write) exit 0 ;;
can_flush|can_trim|can_zero|can_fast_zero|can_extents|can_multi_conn|is_rotational) exit 3 ;;
can_fua|can_cache) echo none ;;`, false,
			server.Capabilities{Write: true, Zero: true}},
		{"everything", `can_write|can_flush|can_trim|can_zero|can_extents|can_multi_conn|is_rotational) exit 0 ;;
can_fua) echo native ;;
can_cache) echo emulate ;;`, false,
			server.Capabilities{Write: true, Flush: true, Trim: true, Zero: true, Extents: true,
				FUA: server.FUANative, MultiConn: true, Cache: server.CacheEmulate, Rotational: true}},
		{"read-only", `can_write|can_flush|can_trim|can_zero|can_extents) exit 0 ;;
can_cache) echo native ;;`, true,
			server.Capabilities{Flush: true, Extents: true, Cache: server.CacheNative}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, sizeAndRead+"\n"+tt.branches)
			h := open(t, newPlugin(t, s), tt.readOnly)
			got, err := h.Capabilities(context.Background())
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v\nwant %+v", got, err, tt.want)
			}
			if tt.readOnly {
				for _, m := range s.methods(t) {
					if m == "can_write" || m == "can_trim" || m == "can_zero" || m == "can_fua" {
						t.Errorf("%s asked of a read-only connection", m)
					}
				}
			}
		})
	}
}

func TestMalformedAnswers(t *testing.T) {
	for _, tt := range []struct {
		branches, want string
	}{
		{`get_size) echo banana ;;`, "get_size"},
		{`pread) ;;`, "get_size method is required"},
		{sizeAndRead + "\ncan_fua) echo sometimes ;; can_write) exit 0 ;;", "can_fua"},
		{sizeAndRead + "\ncan_cache) ;;", "can_cache"},
		{sizeAndRead + "\nblock_size) echo 512 4096 ;;", "block_size"},
		{sizeAndRead + "\nblock_size) echo 3 4096 1M ;;", "block size"},
		{sizeAndRead + "\ncan_write) echo EPERM no writing today >&2; exit 1 ;;", "no writing today"},
	} {
		s := newScript(t, tt.branches)
		p := newPlugin(t, s)
		ctx := context.Background()
		h, err := server.PluginLayer("sh", p).Open(ctx, server.OpenRequest{})
		if err != nil {
			t.Fatal(err)
		}
		err = h.Prepare(ctx, false)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("script %q: Prepare: %v, want an error mentioning %q", tt.branches, err, tt.want)
		}
	}
}

func TestRequests(t *testing.T) {
	s := newScript(t, `get_size) echo 64k ;;
open) echo "h-$2-$3" ;;
can_write|can_flush|can_trim|can_zero|can_extents) exit 0 ;;
can_fua|can_cache) echo native ;;
pread) head -c "$3" /dev/zero | tr '\0' 'r' ;;
pwrite) cat > "$(dirname "$0")/written" ;;
flush|trim|zero|cache) ;;
extents) echo "$4 $(( $3 / 2 ))"; echo "$(( $4 + $3 / 2 )) $(( $3 / 2 )) hole,zero" ;;
export_description) echo "a disk"; echo "of two lines" ;;
close) ;;`)
	p := newPlugin(t, s)
	ctx := context.Background()
	h, err := server.PluginLayer("sh", p).Open(ctx, server.OpenRequest{ExportName: "exp"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1000)
	if err := h.ReadAt(ctx, buf, 100, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, bytes.Repeat([]byte("r"), 1000)) {
		t.Errorf("read %q...", buf[:10])
	}
	data := []byte("written through standard input")
	if err := h.WriteAt(ctx, data, 4096, server.FlagFUA); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(filepath.Dir(s.path), "written")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the script read %q, %v; want %q", got, err, data)
	}
	if err := h.Flush(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Trim(ctx, 0, 512, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Zero(ctx, 512, 512, server.FlagMayTrim|server.FlagFUA); err != nil {
		t.Fatal(err)
	}
	if err := h.Cache(ctx, 0, 4096, 0); err != nil {
		t.Fatal(err)
	}
	e := server.NewExtentList(1024, 1024+2048)
	if err := h.Extents(ctx, 1024, 2048, server.FlagReqOne, e); err != nil {
		t.Fatal(err)
	}
	want := []server.Extent{{Offset: 1024, Length: 1024}, {Offset: 2048, Length: 1024, Type: server.ExtentHole | server.ExtentZero}}
	if got := e.Extents(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("extents %+v, want %+v", got, want)
	}
	if desc, err := h.ExportDescription(ctx); err != nil || desc != "a disk\nof two lines" {
		t.Errorf("description %q, %v", desc, err)
	}
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}

	handle := "h-false-exp"
	calls := s.calls(t)
	for _, want := range []string{
		"open false exp false",
		"get_size " + handle,
		"pread " + handle + " 1000 100",
		"pwrite " + handle + " 30 4096 fua",
		"flush " + handle,
		"trim " + handle + " 512 0 ",
		"zero " + handle + " 512 512 fua,may_trim",
		"cache " + handle + " 4096 0",
		"extents " + handle + " 2048 1024 req_one",
		"export_description " + handle,
		"close " + handle,
	} {
		if !contains(calls, want) {
			t.Errorf("no call %q in %q", want, calls)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestScriptErrors(t *testing.T) {
	for _, tt := range []struct {
		pread string
		errno protocol.Errno
		want  string
	}{
		{`echo "ENOSPC no room" >&2; exit 1`, protocol.ENOSPC, "no room"},
		{`echo "enospc" >&2; exit 1`, protocol.ENOSPC, "pread"},
		{`echo "EROFS frozen" >&2; exit 1`, protocol.EPERM, "frozen"},
		{`echo "EOPNOTSUPP" >&2; exit 9`, protocol.ENOTSUP, "pread"},
		{`echo "EINVALID stuff" >&2; exit 1`, protocol.EIO, "EINVALID stuff"},
		{`exit 1`, protocol.EIO, "without a message"},
		{`echo "EINVAL reserved" >&2; exit 4`, protocol.EINVAL, "reserved"},
		{`kill -KILL $$`, protocol.EIO, "signal 9"},
		{`head -c 10 /dev/zero`, protocol.EIO, "printed 10"},
		{`head -c 600 /dev/zero`, protocol.EIO, "printed 600"},
		{`exit 2`, protocol.EIO, "pread method is required"},
		{`exit 3`, protocol.EIO, "exit code 3"},
	} {
		s := newScript(t, "get_size) echo 512 ;;\npread) "+tt.pread+" ;;")
		h := open(t, newPlugin(t, s), true)
		err := h.ReadAt(context.Background(), make([]byte, 512), 0, 0)
		if got := server.ErrnoOf(err); got != tt.errno || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("pread %q: %v (%v), want %v mentioning %q", tt.pread, err, got, tt.errno, tt.want)
		}
	}
}

func TestZeroFallsBackToWrite(t *testing.T) {
	for _, tt := range []struct {
		name, branches string
		fastZeroErr    bool // whether a fast zero fails (with ENOTSUP)
	}{
		{"no can_zero", ``, true},
		{"can_zero false", `can_zero) exit 3 ;;`, true},
		{"no zero method", `can_zero) exit 0 ;;`, false},
		{"zero says ENOTSUP", `can_zero) exit 0 ;;
zero) echo "ENOTSUP not today" >&2; exit 1 ;;`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, "get_size) echo 64k ;;\ncan_write) exit 0 ;;\npwrite) cat > /dev/null ;;\n"+tt.branches)
			h := open(t, newPlugin(t, s), false)
			ctx := context.Background()
			if err := h.Zero(ctx, 4096, 8192, 0); err != nil {
				t.Fatal(err)
			}
			if !contains(s.calls(t), "pwrite  8192 4096 ") {
				t.Errorf("calls %q: want the zeroes written by pwrite", s.calls(t))
			}
			caps, _ := h.Capabilities(ctx)
			if !caps.FastZero {
				return // the server refuses fast zeroes itself
			}
			err := h.Zero(ctx, 0, 4096, server.FlagFastZero)
			if got := server.ErrnoOf(err); tt.fastZeroErr != (got == protocol.ENOTSUP) {
				t.Errorf("fast zero: %v", err)
			}
		})
	}
}

func TestPwriteMustReadStdin(t *testing.T) {
	s := newScript(t, "get_size) echo 1M ;;\ncan_write) exit 0 ;;\npwrite) exit 0 ;;")
	h := open(t, newPlugin(t, s), false)
	// More than a pipe holds, so that the write certainly fails.
	err := h.WriteAt(context.Background(), make([]byte, 1<<20), 0, 0)
	if err == nil || !strings.Contains(err.Error(), "standard input") {
		t.Errorf("a pwrite that reads nothing: %v", err)
	}
}

func TestScriptWithoutShebang(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plain")
	if err := os.WriteFile(path, []byte("case \"$1\" in get_size) echo 3k ;; *) exit 2 ;; esac\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Script: path})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Cleanup(context.Background())
	h, err := p.Open(context.Background(), server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if size, err := h.Size(context.Background()); err != nil || size != 3072 {
		t.Errorf("size %d, %v; want 3072 from a script run by /bin/sh", size, err)
	}
}

func TestExports(t *testing.T) {
	s := newScript(t, `list_exports) echo NAMES+DESCRIPTIONS; echo a; echo b; echo "the a"; echo "the b" ;;
default_export) echo b ;;
preconnect) ;;`)
	p := newPlugin(t, s)
	ctx := server.WithConnInfo(context.Background(), server.ConnInfo{ID: 1})
	if err := p.Preconnect(ctx, server.ConnInfo{ID: 1}); err != nil {
		t.Fatal(err)
	}
	exports, err := p.ListExports(ctx, true)
	if err != nil || len(exports) != 2 || exports[1] != (server.Export{Name: "b", Description: "the b"}) {
		t.Errorf("exports %+v, %v", exports, err)
	}
	if name, err := p.DefaultExport(ctx, false); err != nil || name != "b" {
		t.Errorf("default export %q, %v", name, err)
	}
	for _, want := range []string{"preconnect false", "list_exports true false", "default_export false false"} {
		if !contains(s.calls(t), want) {
			t.Errorf("no call %q in %q", want, s.calls(t))
		}
	}

	// Without list_exports, the list is the default export.
	s = newScript(t, `default_export) printf 'NAMES\nfirst\nsecond\n' ;;`)
	p = newPlugin(t, s)
	if exports, err := p.ListExports(ctx, false); err != nil || len(exports) != 1 || exports[0].Name != "first" {
		t.Errorf("exports %+v, %v; want the default export alone", exports, err)
	}
	s = newScript(t, `list_exports) printf 'INTERLEAVED\nonly a name\n' ;;`)
	if _, err := newPlugin(t, s).ListExports(ctx, false); err == nil || !strings.Contains(err.Error(), "list_exports") {
		t.Errorf("a malformed list: %v", err)
	}
}

func TestDumpPlugin(t *testing.T) {
	s := newScript(t, `dump_plugin) echo colour=blue; printf 'shape=round' ;;`)
	var out bytes.Buffer
	newPlugin(t, s).DumpPlugin(&out)
	if got, want := out.String(), "max_known_status=3\ncolour=blue\nshape=round\n"; got != want {
		t.Errorf("dump:\n%s\nwant\n%s", got, want)
	}
}

func TestCancelledRequestRunsNothing(t *testing.T) {
	s := newScript(t, sizeAndRead)
	h := open(t, newPlugin(t, s), true)
	before := len(s.calls(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.ReadAt(ctx, make([]byte, 10), 0, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("read with a cancelled context: %v", err)
	}
	if after := len(s.calls(t)); after != before {
		t.Errorf("%d calls made for a cancelled request", after-before)
	}
}

func TestExitCodesThatAnswer(t *testing.T) {
	// The exit codes that are not errors must not be mistaken for one.
	s := newScript(t, `can_write) exit 0 ;; can_flush) exit 3 ;;`+"\n"+sizeAndRead)
	h := open(t, newPlugin(t, s), false)
	caps, err := h.Capabilities(context.Background())
	if err != nil || !caps.Write || caps.Flush {
		t.Errorf("caps %+v, %v", caps, err)
	}
}

func TestParallelCalls(t *testing.T) {
	// pread prints its offset, padded with dots, so that each read can tell that it
	// got its own answer.
	s := newScript(t, `thread_model) echo parallel ;;
get_size) echo 1M ;;
pread) printf '%-'"$3"'s' "$4" | tr ' ' . ;;`)
	p := newPlugin(t, s)
	if p.ThreadModel() != server.Parallel {
		t.Fatalf("thread model %v", p.ThreadModel())
	}
	h := open(t, p, true)
	const readers = 8
	errs := make(chan error, readers)
	for i := range readers {
		go func() {
			off := int64(i) * 4096
			buf := make([]byte, 64)
			if err := h.ReadAt(context.Background(), buf, off, 0); err != nil {
				errs <- err
				return
			}
			if want := fmt.Sprintf("%-64d", off); string(buf) != strings.ReplaceAll(want, " ", ".") {
				errs <- fmt.Errorf("read at %d got %q", off, buf)
				return
			}
			errs <- nil
		}()
	}
	for range readers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
