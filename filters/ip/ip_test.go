package ip_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/filters/ip"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestParseRulesAccepts(t *testing.T) {
	for _, s := range []string{
		"all", "any", "allipv4", "anyipv4", "allipv6", "anyipv6", "allunix", "anyunix", "unix",
		"allvsock", "anyvsock", "127.0.0.1", "10.0.0.0/8", "10.1.2.3/8", "0.0.0.0/0", "::1",
		"2001:db8::/32", "::ffff:10.0.0.1", "pid:1", "uid:0", "gid:0x10", "vsock-cid:2",
		"vsock-port:10809", "security:system_u:system_r:unconfined_t:s0",
		"127.0.0.1,::1,uid:1000",
	} {
		if _, err := ip.ParseRules(s); err != nil {
			t.Errorf("ParseRules(%q): %v", s, err)
		}
	}
}

func TestParseRulesRefuses(t *testing.T) {
	for _, s := range []string{
		"", ",", "all,", ",all", "all,,any", " all", "all ", "ALL", "anyipv5", "127.0.0.1 ",
		"10.0.0.0/33", "10.0.0.0/abc", "10.0.0.0/", "10.0.0.0/8x", "10.0.0.0/-1", "/8",
		"::/129", "1.2.3", "256.0.0.1", "01.2.3.4", "fe80::1%eth0", "1.2.3.4:80",
		"uid:", "uid:abc", "uid:1x", "uid:-1", "uid:4294967296", "pid: 1", "gid:1.5",
		"security:", "vsock-cid:", "uid", "user:1000",
	} {
		if rules, err := ip.ParseRules(s); err == nil {
			t.Errorf("ParseRules(%q) = %v, want an error", s, rules)
		}
	}
}

// Addresses of clients, as the server describes them.
var (
	tcp4      = &net.TCPAddr{IP: net.ParseIP("192.168.1.20").To4(), Port: 40000}
	tcp4Other = &net.TCPAddr{IP: net.ParseIP("10.9.8.7").To4(), Port: 40000}
	tcp4Map   = &net.TCPAddr{IP: net.ParseIP("::ffff:192.168.1.20"), Port: 40000} // 16-byte form
	tcp6      = &net.TCPAddr{IP: net.ParseIP("2001:db8::5"), Port: 40000}
	loop6     = &net.TCPAddr{IP: net.IPv6loopback, Port: 40000}
	unixAddr  = &net.UnixAddr{Net: "unix"}
	vsock     = server.VsockAddr{CID: 3, Port: 1024}
	peer      = &server.PeerCred{PID: 4242, UID: 1000, GID: 100, SecurityLabel: "unconfined"}
)

func TestRuleMatches(t *testing.T) {
	clients := map[string]server.ConnInfo{
		"tcp4":      {Remote: tcp4},
		"tcp4other": {Remote: tcp4Other},
		"tcp4map":   {Remote: tcp4Map},
		"tcp6":      {Remote: tcp6},
		"loop6":     {Remote: loop6},
		"unix":      {Remote: unixAddr, Peer: peer},
		"unixanon":  {Remote: unixAddr},
		"vsock":     {Remote: vsock},
		"nil":       {},
	}
	for _, tc := range []struct {
		rule    string
		matches string // the clients above it matches, in any order
	}{
		{"all", "tcp4 tcp4other tcp4map tcp6 loop6 unix unixanon vsock nil"},
		{"anyipv4", "tcp4 tcp4other tcp4map"},
		{"anyipv6", "tcp6 loop6"},
		{"anyunix", "unix unixanon"},
		{"anyvsock", "vsock"},
		{"192.168.1.20", "tcp4 tcp4map"},
		{"192.168.0.0/16", "tcp4 tcp4map"},
		{"10.255.0.1/8", "tcp4other"},
		{"0.0.0.0/0", "tcp4 tcp4other tcp4map"},
		{"::/0", "tcp6 loop6 tcp4map"},
		{"::ffff:192.168.1.20", "tcp4map"},
		{"2001:db8::/32", "tcp6"},
		{"::1", "loop6"},
		{"pid:4242", "unix"},
		{"pid:4243", ""},
		{"uid:1000", "unix"},
		{"uid:0", ""},
		{"gid:100", "unix"},
		{"security:unconfined", "unix"},
		{"security:other", ""},
		{"vsock-cid:3", "vsock"},
		{"vsock-cid:2", ""},
		{"vsock-port:1024", "vsock"},
	} {
		rules, err := ip.ParseRules(tc.rule)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Fields(tc.matches)
		for name, info := range clients {
			allowed := ip.Options{Allow: rules, Deny: mustParse(t, "all")}.Permitted(info)
			denied := !ip.Options{Deny: rules}.Permitted(info)
			matched := contains(want, name)
			if allowed != matched || denied != matched {
				t.Errorf("rule %s, client %s: allowed=%v denied=%v, want a match: %v", tc.rule, name, allowed, denied, matched)
			}
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

func mustParse(t *testing.T, s string) []ip.Rule {
	t.Helper()
	r, err := ip.ParseRules(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRuleOrder(t *testing.T) {
	info := server.ConnInfo{Remote: tcp4}
	for _, tc := range []struct {
		allow, deny string
		permitted   bool
	}{
		{"", "", true},
		{"", "all", false},
		{"192.168.1.20", "all", true},    // allow is checked first
		{"all", "192.168.1.20", true},    // whatever deny says
		{"10.0.0.0/8", "anyipv4", false}, // no allow rule matches, a deny rule does
		{"10.0.0.0/8", "anyipv6", true},  // neither matches: the default is to allow
		{"", "10.0.0.0/8,192.168.1.0/24", false},
	} {
		var o ip.Options
		if tc.allow != "" {
			o.Allow = mustParse(t, tc.allow)
		}
		if tc.deny != "" {
			o.Deny = mustParse(t, tc.deny)
		}
		if got := o.Permitted(info); got != tc.permitted {
			t.Errorf("allow=%s deny=%s: permitted %v, want %v", tc.allow, tc.deny, got, tc.permitted)
		}
	}
}

// counter counts the Preconnect calls that reach it.
type counter struct {
	server.PassThrough
	calls int
}

func (c *counter) Preconnect(ctx context.Context, info server.ConnInfo) error {
	c.calls++
	return c.Next.Preconnect(ctx, info)
}

func TestPreconnect(t *testing.T) {
	behind := &counter{PassThrough: server.PassThrough{Next: servertest.NewDisk(4096).Layer()}}
	layer := ip.New(behind, ip.Options{Allow: mustParse(t, "uid:1000"), Deny: mustParse(t, "anyunix")})
	if layer.Name() != "ip" {
		t.Errorf("Name() = %q", layer.Name())
	}
	ctx := context.Background()
	if err := layer.Preconnect(ctx, server.ConnInfo{Remote: unixAddr, Peer: peer}); err != nil {
		t.Errorf("uid 1000: %v", err)
	}
	err := layer.Preconnect(ctx, server.ConnInfo{Remote: unixAddr, Peer: &server.PeerCred{PID: 1, UID: 33, GID: 33}})
	if !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(), "uid 33") || !strings.Contains(err.Error(), "deny=anyunix") {
		t.Errorf("uid 33: %v, want EPERM naming the client and the rule", err)
	}
	if behind.calls != 1 {
		t.Errorf("%d clients reached the layer behind, want 1", behind.calls)
	}
}

func TestBadParameters(t *testing.T) {
	for _, tc := range []struct{ param, want string }{
		{"allow=10.0.0.0/abc", `allow=10.0.0.0/abc: rule "10.0.0.0/abc"`},
		{"deny=all,", "deny=all,: empty rule"},
		{"deny=uid:me", `deny=uid:me: rule "uid:me"`},
		{"allow=localhost", `allow=localhost: rule "localhost"`},
	} {
		_, err := servertest.Stack(servertest.NewDisk(4096).Spec(), []server.FilterSpec{ip.Spec()}, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.param, err, tc.want)
		}
	}
}

// connects reports whether nbdsh can read from uri.
func connects(t *testing.T, uri string) bool {
	t.Helper()
	return servertest.Run(t, "nbdsh", "-u", uri, "-c", "h.pread(512, 0)").Code == 0
}

func TestEndToEndUnix(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	uid, gid := os.Getuid(), os.Getgid()
	for _, tc := range []struct {
		params []string
		want   bool
	}{
		{nil, true},
		{[]string{"deny=all"}, false},
		{[]string{"allow=anyunix", "deny=all"}, true},
		{[]string{fmt.Sprintf("allow=uid:%d", uid), "deny=all"}, true},
		{[]string{"deny=all", fmt.Sprintf("allow=gid:%d", gid)}, true}, // order does not matter
		{[]string{fmt.Sprintf("allow=uid:%d", uid+1), "deny=all"}, false},
		{[]string{fmt.Sprintf("deny=uid:%d", uid)}, false},
		{[]string{fmt.Sprintf("allow=pid:%d", os.Getpid()), "deny=anyunix"}, false}, // nbdsh is another process
		{[]string{"deny=anyipv4,anyipv6"}, true},
		{[]string{"deny=127.0.0.1", "deny=::1"}, true},
	} {
		s := servertest.StartStack(t, servertest.NewDisk(1<<20).Spec(), []server.FilterSpec{ip.Spec()}, tc.params...)
		if got := connects(t, s.URI()); got != tc.want {
			t.Errorf("%q: nbdsh connected: %v, want %v\n%s", tc.params, got, tc.want, s.Log)
		}
	}
}

// startTCP serves a stack on a loopback TCP port and returns its URI.
func startTCP(t *testing.T, params ...string) string {
	t.Helper()
	layer, err := servertest.Stack(servertest.NewDisk(1<<20).Spec(), []server.FilterSpec{ip.Spec()}, params...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no IPv4 loopback: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, layer, server.Options{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		srv.Close(context.Background())
	})
	return "nbd://" + ln.Addr().String()
}

func TestEndToEndTCP(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	for _, tc := range []struct {
		params []string
		want   bool
	}{
		{[]string{"allow=127.0.0.1", "deny=all"}, true},
		{[]string{"allow=127.0.0.0/8", "deny=all"}, true},
		{[]string{"allow=anyipv4", "deny=all"}, true},
		{[]string{"allow=::1,anyipv6,anyunix", "deny=all"}, false},
		{[]string{"deny=127.0.0.0/8"}, false},
		{[]string{"deny=anyipv4"}, false},
		{[]string{"deny=10.0.0.0/8,anyunix,uid:0"}, true},
	} {
		uri := startTCP(t, tc.params...)
		if got := connects(t, uri); got != tc.want {
			t.Errorf("%q: nbdsh connected: %v, want %v", tc.params, got, tc.want)
		}
	}
}
