package data

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server"
)

// testTimeout bounds what one test waits for a server or a client.
const testTimeout = 30 * time.Second

// params turns "key=value" strings into parameters; a string that is not key=value (no
// '=', or a '"' or space before it) goes to the magic key, data, as on the command
// line.
func params(args ...string) []server.Param {
	list := make([]server.Param, len(args))
	for i, arg := range args {
		key, value, ok := strings.Cut(arg, "=")
		if !ok || key == "" || strings.ContainsAny(key, " \"'()<>@*[]\\$#") {
			key, value = "data", arg
		}
		list[i] = server.Param{Key: key, Value: value}
	}
	return list
}

// testEnv is an environment variable the tests' $VARs can refer to, given to nbdkit
// in its environment and to the plugin through Options.LookupEnv.
const testEnv, testEnvValue = "GONBD_TEST_ENV", "0x42 0x43"

// testSpec is Spec with files and scripts in dir, and testEnv in the environment.
func testSpec(dir string) server.PluginSpec {
	spec := Spec()
	spec.New = func(p *server.Params) (server.Plugin, error) {
		opts, err := optionsFromParams(p)
		if err != nil {
			return nil, err
		}
		opts.Dir = dir
		opts.Stderr = io.Discard
		opts.LookupEnv = func(name string) (string, bool) {
			if name == testEnv {
				return testEnvValue, true
			}
			return os.LookupEnv(name)
		}
		return New(opts)
	}
	return spec
}

// evaluate makes the plugin from command-line arguments, with files and scripts in
// dir, and gets it ready, as the server would, returning the first error.
func evaluate(t testing.TB, dir string, args ...string) (*Plugin, error) {
	t.Helper()
	p := server.NewParams(params(args...), nil)
	made, err := testSpec(dir).New(p)
	if err != nil {
		return nil, err
	}
	if unused := p.Unused(); len(unused) > 0 {
		t.Fatalf("%q: parameters left unused: %v", args, unused)
	}
	plugin := made.(*Plugin)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := plugin.GetReady(ctx); err != nil {
		return nil, err
	}
	t.Cleanup(func() { plugin.Cleanup(context.Background()) })
	return plugin, nil
}

// contents returns the whole disk of a plugin that is ready.
func contents(t testing.TB, p *Plugin) []byte {
	t.Helper()
	ctx := context.Background()
	h, err := p.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	size, err := h.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, size)
	if err := h.ReadAt(ctx, b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

// mustEvaluate returns the disk that args make, failing the test on an error.
func mustEvaluate(t testing.TB, dir string, args ...string) []byte {
	t.Helper()
	p, err := evaluate(t, dir, args...)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return contents(t, p)
}

// A view is what a client sees of a disk: its size, its bytes (all of them for a small
// disk, the first and last probeSize for a large one), and where it reads as zeroes
// according to block status.
type view struct {
	size   uint64
	head   []byte
	tail   []byte
	zeroes []zeroRun
}

// A zeroRun is a run of extents that all read as zeroes, or all do not.
type zeroRun struct {
	off, length uint64
	zero        bool
}

const (
	// probeSize is how much of each end of a large disk a view holds.
	probeSize = 1 << 20
	// maxStatusCalls bounds the block status requests a view makes.
	maxStatusCalls = 64
)

// viewOf reads what a client sees of the export c is connected to.
func viewOf(ctx context.Context, c *client.Conn) (view, error) {
	v := view{size: c.Size()}
	if v.size <= 2*probeSize {
		v.head = make([]byte, v.size)
	} else {
		v.head, v.tail = make([]byte, probeSize), make([]byte, probeSize)
	}
	if err := readAll(ctx, c, v.head, 0); err != nil {
		return v, err
	}
	if v.tail != nil {
		if err := readAll(ctx, c, v.tail, v.size-probeSize); err != nil {
			return v, err
		}
	}
	for off, calls := uint64(0), 0; off < v.size && calls < maxStatusCalls; calls++ {
		length := min(v.size-off, 1<<31)
		err := c.BlockStatus(ctx, off, length, 0, func(_ string, ds []protocol.BlockDescriptor) error {
			for _, d := range ds {
				d.Length = min(d.Length, v.size-off)
				zero := d.Flags&uint64(server.ExtentZero) != 0
				if n := len(v.zeroes); n > 0 && v.zeroes[n-1].zero == zero {
					v.zeroes[n-1].length += d.Length
				} else {
					v.zeroes = append(v.zeroes, zeroRun{off, d.Length, zero})
				}
				off += d.Length
			}
			return nil
		})
		if err != nil {
			return v, err
		}
	}
	return v, nil
}

// readAll reads p at off in requests of at most 32 MiB.
func readAll(ctx context.Context, c *client.Conn, p []byte, off uint64) error {
	for len(p) > 0 {
		n := min(len(p), 32<<20)
		if err := c.ReadAt(ctx, p[:n], off, 0); err != nil {
			return err
		}
		p, off = p[n:], off+uint64(n)
	}
	return nil
}

// errorIs reports whether err is an *Error whose text holds every one of want.
func errorIs(err error, want ...string) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			return false
		}
	}
	return true
}

// readyContents gets p ready and returns its whole disk.
func readyContents(t testing.TB, p *Plugin) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := p.GetReady(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Cleanup(context.Background()) })
	return contents(t, p)
}

// paramArgs spells parameters as nbdkit's command line takes them.
func paramArgs(args []string) []string {
	var out []string
	for _, p := range params(args...) {
		out = append(out, p.Key+"="+p.Value)
	}
	return out
}
