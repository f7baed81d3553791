package eval

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server"
)

// zeroDisk are the bodies of the manual's first example: a read-only disk of zeroes.
var zeroDisk = []string{
	"get_size=echo 64M",
	"pread=dd if=/dev/zero count=$3 iflag=count_bytes status=none",
}

// stack builds a plugin layer from command-line parameters, as gonbd does, and cleans
// it up when the test ends.
func stack(t *testing.T, params ...string) server.Layer {
	t.Helper()
	layer, err := newStack(params...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { layer.Cleanup(context.Background()) })
	return layer
}

func newStack(params ...string) (server.Layer, error) {
	list := make([]server.Param, len(params))
	for i, kv := range params {
		key, value, _ := strings.Cut(kv, "=")
		list[i] = server.Param{Key: key, Value: value}
	}
	return server.NewStack(Spec(), nil, list, nil)
}

// capabilities opens a connection and returns what it can do.
func capabilities(t *testing.T, layer server.Layer, readOnly bool) server.Capabilities {
	t.Helper()
	ctx := context.Background()
	h, err := layer.Open(ctx, server.OpenRequest{ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	if err := h.Prepare(ctx, readOnly); err != nil {
		t.Fatal(err)
	}
	caps, err := h.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return caps
}

func TestReadOnlyDisk(t *testing.T) {
	layer := stack(t, zeroDisk...)
	ctx := context.Background()
	h, err := layer.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	if size, err := h.Size(ctx); err != nil || size != 64<<20 {
		t.Errorf("size %d, %v", size, err)
	}
	buf := []byte("not zeroes")
	if err := h.ReadAt(ctx, buf, 1<<20, 0); err != nil || string(buf) != string(make([]byte, len(buf))) {
		t.Errorf("read %q, %v", buf, err)
	}
	if caps, _ := h.Capabilities(ctx); caps != (server.Capabilities{}) {
		t.Errorf("capabilities %+v: want none without methods", caps)
	}
}

func TestImpliedCapabilities(t *testing.T) {
	all := slices.Concat(zeroDisk, []string{"pwrite=cat >/dev/null", "flush=:", "trim=:", "zero=:", "extents=echo 0 $3", "cache=:"})
	want := server.Capabilities{Write: true, Flush: true, Trim: true, Zero: true, Extents: true,
		FUA: server.FUAEmulate, Cache: server.CacheNative}
	if got := capabilities(t, stack(t, all...), false); got != want {
		t.Errorf("with every method: %+v\nwant %+v", got, want)
	}
	// An explicit can_* answer wins over the implied one.
	denied := slices.Concat(all, []string{"can_write=exit 3", "can_cache=echo emulate", "can_flush=exit 3"})
	want = server.Capabilities{Extents: true, Cache: server.CacheEmulate}
	if got := capabilities(t, stack(t, denied...), false); got != want {
		t.Errorf("with can_* answers: %+v\nwant %+v", got, want)
	}
}

func TestMissingAndConfig(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	layer := stack(t, slices.Concat(zeroDisk, []string{
		"size=1",
		"missing=echo \"$1\" >> " + log + "; exit 2",
		"config=echo \"config $2 $3 $(basename $0)\" >> " + log,
		"load=yes",
		"magic_config_key=no",
	})...)
	if err := layer.GetReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	layer.Cleanup(context.Background())

	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(string(data)), "\n")
	// The config script runs under its method's name, and the parameters that are
	// no methods reach it in order; missing runs for the rest, but load and
	// magic_config_key are no eval methods.
	want := []string{"config size 1 config", "config load yes config", "config magic_config_key no config",
		"config_complete", "thread_model", "get_ready", "after_fork", "unload"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%q\nwant\n%q", got, want)
	}
}

func TestTmpDirRemoved(t *testing.T) {
	record := filepath.Join(t.TempDir(), "tmpdir")
	layer, err := newStack(slices.Concat(zeroDisk, []string{"get_ready=echo $tmpdir > " + record})...)
	if err != nil {
		t.Fatal(err)
	}
	if err := layer.GetReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	tmpdir := strings.TrimSpace(string(dir))
	if _, err := os.Stat(filepath.Join(tmpdir, "get_size")); err != nil {
		t.Errorf("the get_size script: %v", err)
	}
	layer.Cleanup(context.Background())
	if _, err := os.Stat(tmpdir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("$tmpdir %s after Cleanup: %v", tmpdir, err)
	}
}

func TestBadParameters(t *testing.T) {
	for _, tt := range []struct {
		params []string
		want   []string
	}{
		{[]string{"get_size=echo 1", "size=1"}, []string{"size=1", "config"}},
		{[]string{"get_size=echo 1", "get_size=echo 2"}, []string{"get_size", "more than once"}},
		{[]string{"missing=exit 2", "missing=exit 1"}, []string{"missing", "more than once"}},
		{[]string{"config=echo EINVAL bad key $2 >&2; exit 1", "colour=blue"}, []string{"bad key colour"}},
		{[]string{"thread_model=exit 1"}, []string{"thread_model", "without a message"}},
	} {
		layer, err := newStack(tt.params...)
		if err == nil {
			layer.Cleanup(context.Background())
			t.Errorf("%q: accepted, want an error", tt.params)
			continue
		}
		for _, want := range tt.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q: error %q does not mention %q", tt.params, err, want)
			}
		}
	}
	if _, err := New(Options{Methods: map[string]string{"load": "exit 0"}}); err == nil || !strings.Contains(err.Error(), "load") {
		t.Errorf("New with a load method: %v", err)
	}
}
