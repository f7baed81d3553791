package main

// End-to-end tests of gonbd's robustness and access control through the binary:
// acknowledged data survives SIGKILL, privileges are dropped after binding, export
// lists do not leak past --tls=require or the exportname filter, idle connections are
// closed, and the ip and limit filters (when linked) parse strictly and limit.

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server/servertest"
)

// TestE2ESIGKILLKeepsAcknowledgedWrites writes through the file plugin with requests
// in flight, flushing after each batch and using FUA for some writes, kills gonbd with
// SIGKILL in the middle, and checks that every write acknowledged by a flush reply (or
// with FUA) is in the file.
func TestE2ESIGKILLKeepsAcknowledgedWrites(t *testing.T) {
	e2eStart(t)
	const block, blocks, batch = 4096, 2048, 16
	path := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(path, make([]byte, block*blocks), 0o600); err != nil {
		t.Fatal(err)
	}
	s := e2eUnix(t, "file", path)
	ctx, cancel := context.WithTimeout(context.Background(), e2eClientTimeout)
	defer cancel()
	c, err := client.Dial(ctx, "unix", s.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fua := c.Flags()&protocol.FlagSendFUA != 0

	data := make([]byte, block*blocks)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	durable := map[int]bool{} // blocks whose write is acknowledged as on stable storage
	killed := make(chan struct{})
	go func() {
		time.Sleep(150 * time.Millisecond)
		s.cmd.Process.Signal(syscall.SIGKILL)
		close(killed)
	}()
	writeBatch := func(first int) error {
		var wg sync.WaitGroup
		acked := make([]bool, batch)
		for i := range batch {
			n := first + i
			wg.Add(1)
			go func() {
				defer wg.Done()
				var flags protocol.CmdFlags
				if fua && n%3 == 0 {
					flags = protocol.CmdFlagFUA
				}
				if c.WriteAt(ctx, data[n*block:(n+1)*block], uint64(n*block), flags) == nil {
					acked[i] = true
					if flags != 0 {
						mu.Lock()
						durable[n] = true
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		if err := c.Flush(ctx, 0); err != nil {
			return err
		}
		mu.Lock()
		for i, ok := range acked {
			if ok {
				durable[first+i] = true
			}
		}
		mu.Unlock()
		return nil
	}
	for first := 0; first+batch <= blocks; first += batch {
		if writeBatch(first) != nil {
			break
		}
	}
	<-killed
	<-s.done // killed: its exit status says so, and is no failure
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(durable) == 0 {
		t.Fatal("no write was acknowledged before SIGKILL: the test proves nothing")
	}
	for n := range durable {
		if !bytes.Equal(got[n*block:(n+1)*block], data[n*block:(n+1)*block]) {
			t.Errorf("block %d was acknowledged as durable but is not in the file after SIGKILL", n)
		}
	}
	t.Logf("%d of %d blocks acknowledged as durable before SIGKILL, all in the file", len(durable), blocks)
}

// TestE2EPrivilegesDropped runs gonbd as root with -u and -g: it binds the socket as
// root, then serves as the user and group given.
func TestE2EPrivilegesDropped(t *testing.T) {
	e2eStart(t, "nbdinfo")
	if os.Geteuid() != 0 {
		t.Skip("needs root to change user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	gid := nobody.Gid
	dir, err := os.MkdirTemp("", "gonbd-priv") // reachable by nobody, unlike t.TempDir's parents
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	sock := filepath.Join(dir, "s")
	s := e2eStartServer(t, "-f", "-U", sock, "-u", "nobody", "-g", gid, "memory", "1M")
	s.waitReady("unix", sock)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	ids := map[string]string{}
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && (k == "Uid" || k == "Gid" || k == "Groups") {
			ids[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	uid := nobody.Uid
	if ids["Uid"] != strings.Repeat(uid+" ", 3)+uid || ids["Gid"] != strings.Repeat(gid+" ", 3)+gid || ids["Groups"] != gid {
		t.Errorf("gonbd -u nobody -g %s runs with Uid %q Gid %q Groups %q, want %s and %s only", gid, ids["Uid"], ids["Gid"], ids["Groups"], uid, gid)
	}
	e2eMustRun(t, "nbdinfo", "--size", "nbd+unix:///?socket="+sock)
}

// TestE2EExportListsDoNotLeak: no export name leaks to a plaintext client of a server
// requiring TLS, and the exportname filter's list modes hide what they say, over TLS
// too.
func TestE2EExportListsDoNotLeak(t *testing.T) {
	e2eStart(t, "nbdinfo")
	files := servertest.NewTLSFiles(t)
	secret := []string{"--filter=exportname", "memory", "1M", "exportname=secret-name", "exportdesc=fixed:secret-desc"}
	s := e2eUnix(t, append([]string{"--tls=require", "--tls-certificates=" + files.ServerDir}, append(secret, "exportname-list=explicit")...)...)
	r := e2eRun(t, "nbdinfo", "--list", s.URI)
	if r.Code == 0 || strings.Contains(r.Stdout+r.Stderr, "secret") {
		t.Errorf("plaintext list of a server requiring TLS: %s", r)
	}
	if r := e2eMustRun(t, "nbdinfo", "--list", e2eTLSURI(s.Socket, files.ClientDir)); !strings.Contains(r.Stdout, "secret-name") {
		t.Errorf("list over TLS lacks the export: %s", r)
	}
	for _, mode := range []string{"empty", "error", "defaultonly"} {
		s := e2eUnix(t, append([]string{"--tls=require", "--tls-certificates=" + files.ServerDir}, append(secret, "exportname-list="+mode)...)...)
		// The description belongs to every export, the default one too: the name must
		// not show.
		r := e2eRun(t, "nbdinfo", "--list", e2eTLSURI(s.Socket, files.ClientDir))
		if strings.Contains(r.Stdout+r.Stderr, "secret-name") {
			t.Errorf("exportname-list=%s over TLS leaks: %s", mode, r)
		}
	}
}

// TestE2EIdleTimeout: --idle-timeout closes a connection that sends nothing.
func TestE2EIdleTimeout(t *testing.T) {
	e2eStart(t)
	s := e2eUnix(t, "--idle-timeout=0.3", "memory", "1M")
	ctx, cancel := context.WithTimeout(context.Background(), e2eClientTimeout)
	defer cancel()
	c, err := client.Dial(ctx, "unix", s.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.ReadAt(ctx, make([]byte, 512), 0, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := c.ReadAt(ctx, make([]byte, 512), 0, 0); err == nil {
		t.Error("a connection idle for 1s still served with --idle-timeout=0.3")
	}
}

// e2eNeedFilter skips the test when this gonbd does not link the filter yet.
func e2eNeedFilter(t *testing.T, name string) {
	t.Helper()
	if _, err := linkedSpecs().filter(name); err != nil {
		t.Skipf("the %s filter is not linked yet: %v", name, err)
	}
}

// TestE2EIPFilterRulesParseStrictly: the ip filter refuses rules it cannot parse
// exactly, rather than allow or deny something else.
func TestE2EIPFilterRulesParseStrictly(t *testing.T) {
	e2eStart(t)
	e2eNeedFilter(t, "ip")
	bin := e2eServerBinary(t)
	for _, rule := range []string{"allow=banana", "allow=10.0.0.0/33", "allow=10.0.0.1/", "deny=::1/129",
		"allow=1.2.3", "allow=10.0.0.0/8x", "deny=uid:", "allow=gid:-1"} {
		r := e2eRun(t, bin, "-f", "-U", filepath.Join(t.TempDir(), "s"), "--filter=ip", "memory", "1M", rule)
		if r.Code != 1 || !strings.Contains(r.Stderr, strings.SplitN(rule, "=", 2)[1]) {
			t.Errorf("ip filter rule %s: %s\nwant exit 1 naming the rule", rule, r)
		}
	}
}

// TestE2ELimitFilter: with limit=1, a second client is refused while the first is
// connected, and served once it leaves.
func TestE2ELimitFilter(t *testing.T) {
	e2eStart(t)
	e2eNeedFilter(t, "limit")
	s := e2eUnix(t, "--filter=limit", "memory", "1M", "limit=1")
	ctx, cancel := context.WithTimeout(context.Background(), e2eClientTimeout)
	defer cancel()
	first, err := client.Dial(ctx, "unix", s.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := client.Dial(ctx, "unix", s.Socket, nil); err == nil {
		c.Close()
		t.Error("a second client was served with limit=1")
	}
	first.Close()
	deadline := time.Now().Add(e2eStartTimeout)
	for {
		c, err := client.Dial(ctx, "unix", s.Socket, nil)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no client served after the first left: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
