//go:build linux

package data

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// compareDir makes the directory the comparisons run in, with the files they read.
func compareDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"f8":    "ABCDEFGH",
		"empty": "",
		"sub/x": "xyz",
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// nbdkitView serves args with `nbdkit -s data` in dir, connected through a socket pair
// to the pure-Go client, and returns what the client sees, or nbdkit's error.
func nbdkitView(ctx context.Context, dir string, args []string) (view, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return view{}, err
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "client"), os.NewFile(uintptr(fds[1]), "nbdkit")
	defer ours.Close()
	nc, err := net.FileConn(ours)
	if err != nil {
		theirs.Close()
		return view{}, err
	}
	defer nc.Close()

	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "nbdkit", append([]string{"-s", "--exit-with-parent", "data"}, paramArgs(args)...)...)
	cmd.Dir = dir
	cmd.Env = append(servertest.Env(), testEnv+"="+testEnvValue)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = theirs, theirs, &stderr
	if err := cmd.Start(); err != nil {
		theirs.Close()
		return view{}, err
	}
	theirs.Close()
	defer cmd.Wait()

	c, err := client.NewConn(ctx, nc, nil)
	if err != nil {
		cmd.Wait()
		return view{}, fmt.Errorf("nbdkit: %s (%v)", strings.TrimSpace(stderr.String()), err)
	}
	defer c.Close()
	return viewOf(ctx, c)
}

// gonbdView serves args with this plugin through the real engine and returns what the
// pure-Go client sees, or the plugin's error.
func gonbdView(t *testing.T, ctx context.Context, dir string, args []string) (view, error) {
	if _, err := evaluate(t, dir, args...); err != nil {
		return view{}, err
	}
	layer, err := server.NewStack(testSpec(dir), nil, params(args...), nil)
	if err != nil {
		return view{}, err
	}
	s := servertest.Start(t, layer, server.Options{})
	return viewOf(ctx, s.Dial(t))
}

// TestE2ESameAsNbdkit serves each case with nbdkit and with this plugin and compares what
// the pure-Go client reads: size, bytes and zero extents.
func TestE2ESameAsNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit")
	dir := compareDir(t)
	for _, args := range sameAsNbdkit {
		t.Run(fmt.Sprintf("%q", args), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			want, err := nbdkitView(ctx, dir, args)
			if err != nil {
				t.Fatalf("nbdkit: %v", err)
			}
			got, err := gonbdView(t, ctx, dir, args)
			if err != nil {
				t.Fatalf("gonbd: %v", err)
			}
			compareViews(t, got, want)
		})
	}
}

// TestE2EFailsLikeNbdkit checks that what nbdkit refuses, this plugin refuses too.
func TestE2EFailsLikeNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit")
	dir := compareDir(t)
	for _, args := range failLikeNbdkit {
		t.Run(fmt.Sprintf("%q", args), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			if _, err := nbdkitView(ctx, dir, args); err == nil {
				t.Fatalf("nbdkit accepts %q: the case is wrong", args)
			}
			_, err := evaluate(t, dir, args...)
			if err == nil {
				t.Fatalf("gonbd accepts %q", args)
			}
			t.Logf("gonbd: %v", err)
		})
	}
}

func compareViews(t *testing.T, got, want view) {
	t.Helper()
	if got.size != want.size {
		t.Fatalf("size %d, nbdkit's is %d", got.size, want.size)
	}
	for _, part := range []struct {
		name      string
		got, want []byte
	}{{"bytes", got.head, want.head}, {"last bytes", got.tail, want.tail}} {
		if !bytes.Equal(part.got, part.want) {
			i := 0
			for i < min(len(part.got), len(part.want)) && part.got[i] == part.want[i] {
				i++
			}
			t.Errorf("%s differ from nbdkit's from index %d:\n got %x\nwant %x", part.name, i,
				part.got[i:min(i+32, len(part.got))], part.want[i:min(i+32, len(part.want))])
		}
	}
	if fmt.Sprint(got.zeroes) != fmt.Sprint(want.zeroes) {
		t.Errorf("zero extents differ from nbdkit's:\n got %v\nwant %v", got.zeroes, want.zeroes)
	}
}

// TestE2ERandomLikeNbdkit compares random data expressions with nbdkit: both must
// refuse them, or both serve the same disk. The expressions come from a grammar of the
// language with a fixed seed, so a failure can be replayed.
func TestE2ERandomLikeNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit")
	dir := compareDir(t)
	g := exprGenerator{rand.New(rand.NewPCG(5, 1))}
	vars := []string{"v=1 2 @^4", "w=( 7 -> \\a \\a*2 )[1:] # a comment\n 9"}
	for i := range 200 {
		args := append([]string{"data=" + g.sequence(0)}, vars...)
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			want, nbdkitErr := nbdkitView(ctx, dir, args)
			got, err := gonbdView(t, ctx, dir, args)
			switch {
			case err != nil && errorIs(err, "reads nothing in nbdkit 1.32"):
				// Refused on purpose: see TestEvaluateRefusesNbdkitBugs.
			case (err == nil) != (nbdkitErr == nil):
				t.Fatalf("%q:\n gonbd: %v\nnbdkit: %v", args[0], err, nbdkitErr)
			case err == nil:
				compareViews(t, got, want)
				t.Logf("%q: the same %d bytes", args[0], got.size)
			default:
				t.Logf("%q: both refuse it", args[0])
			}
		})
	}
}

// exprGenerator makes random data expressions, valid or not.
type exprGenerator struct{ rng *rand.Rand }

func (g exprGenerator) pick(choices ...string) string { return choices[g.rng.IntN(len(choices))] }

func (g exprGenerator) sequence(depth int) string {
	items := make([]string, 1+g.rng.IntN(5))
	for i := range items {
		items[i] = g.postfix(g.atom(depth))
	}
	return strings.Join(items, " ")
}

func (g exprGenerator) atom(depth int) string {
	switch r := g.rng.IntN(100); {
	case r < 20:
		return fmt.Sprint(g.rng.IntN(256))
	case r < 25:
		return g.pick("08", "0x", "0x1f", "007", "09 1", "0X0a", "0377")
	case r < 35:
		return `"` + g.pick("a", "bc", `\x41`, "hello", `\n`, "", `\"`) + `"`
	case r < 42:
		return g.pick("le16:", "be16:", "le32:", "be64:") + fmt.Sprint(g.rng.IntN(65536)) + " "
	case r < 52:
		return "@" + g.pick("", "+", "-", "^") + g.pick("0", "1", "2", "4", "8", "16", "512", "70000")
	case r < 57:
		return g.pick("<f8", "</dev/zero[:3]", "<(printf xyz)", "<empty")
	case r < 65:
		return g.pick(`\a`, `\b`, `\c`)
	case r < 90 && depth < 3:
		return "( " + g.sequence(depth+1) + " )"
	case r < 93:
		return "$v"
	case r < 95:
		return "$w"
	}
	return fmt.Sprint(g.rng.IntN(10))
}

func (g exprGenerator) postfix(x string) string {
	switch r := g.rng.IntN(100); {
	case r < 15:
		return x + "*" + fmt.Sprint(g.rng.IntN(6))
	case r < 25:
		n := g.rng.IntN(5)
		m := n + g.rng.IntN(5)
		return x + g.pick(fmt.Sprintf("[%d:%d]", n, m), fmt.Sprintf("[%d:]", n), fmt.Sprintf("[:%d]", m), "[:]")
	case r < 35:
		return x + " -> " + g.pick(`\a`, `\b`, `\c`)
	}
	return x
}
