package nbd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// TestE2ECommandQemuNbd runs qemu-nbd on a raw file as the server, the use nbdkit's
// manual page gives for command=, writes through the proxy and checks the file.
func TestE2ECommandQemuNbd(t *testing.T) {
	servertest.EndToEnd(t, "qemu-nbd", "qemu-io")
	image := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(image, make([]byte, 4*miB), 0o644); err != nil {
		t.Fatal(err)
	}
	proxy := proxyTo(t, "command=qemu-nbd", "arg=-f", "arg=raw", "arg="+image)
	servertest.QemuIO(t, proxy.URI(), "write -P 0x5a 1M 64k", "flush", "read -P 0x5a 1M 64k")
	// A second client shares the one connection to qemu-nbd, which serves only one.
	servertest.QemuIO(t, proxy.URI(), "read -P 0x5a 1M 64k", "read -P 0 0 1M")

	got, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[1*miB:1*miB+64*kiB], bytes.Repeat([]byte{0x5a}, 64*kiB)) {
		t.Error("the image file does not hold what was written through the proxy")
	}
}

// TestE2ECommandStopsTheServer checks that Cleanup stops the command and removes its
// socket.
func TestE2ECommandStopsTheServer(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit")
	var log servertest.LogBuffer
	p, err := New(Options{Command: []string{"nbdkit", "memory", "1M"}, Logger: log.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	proxy := servertest.Start(t, server.PluginLayer("nbd", p), server.Options{})
	c := proxy.Dial(t)
	if c.Size() != 1*miB {
		t.Errorf("size %d through the proxy, want nbdkit's 1M", c.Size())
	}
	p.mu.Lock()
	cmd := p.command
	p.mu.Unlock()
	c.Close()
	if err := proxy.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cmd.done:
	case <-time.After(10 * time.Second):
		t.Fatal("nbdkit still runs 10s after the plugin's cleanup")
	}
	if _, err := os.Stat(cmd.dir); !os.IsNotExist(err) {
		t.Errorf("the command's socket directory is still there: %v", err)
	}
	if strings.Contains(log.String(), "killing it") {
		t.Errorf("nbdkit had to be killed:\n%s", log.String())
	}
}

func TestCommandThatFails(t *testing.T) {
	var stderr lockedBuffer
	p, err := New(Options{Command: []string{"gonbd-test-no-such-program", "arg"}, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	err = p.GetReady(testContext(t))
	p.Cleanup(testContext(t))
	if err == nil || !strings.Contains(err.Error(), "command=gonbd-test-no-such-program exited (exit status 127)") {
		t.Errorf("GetReady with a command that cannot run: %v, want the command and its exit status named", err)
	}
	if !strings.Contains(stderr.String(), "gonbd-test-no-such-program") {
		t.Errorf("the shell's complaint did not reach Options.Stderr: %q", stderr.String())
	}
}
