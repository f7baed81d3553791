package ip

import (
	"context"
	"fmt"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// Options configure the filter. The zero value lets every client in.
type Options struct {
	// Allow lets in the clients that match any of its rules, whatever Deny says.
	Allow []Rule
	// Deny turns away the clients that match any of its rules and none of Allow.
	Deny []Rule
}

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=ip PLUGIN [allow=RULE[,RULE...]] [deny=RULE[,RULE...]]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "ip",
		Version:     moduleVersion(),
		Description: "let clients in or turn them away by address, user, group or process",
		ConfigHelp: "allow=RULE[,RULE...]  Let in the clients that match (repeatable).\n" +
			"deny=RULE[,RULE...]   Turn away the clients that match and are not allowed (repeatable).\n" +
			"RULE is all, anyipv4, anyipv6, anyunix, anyvsock, an IP address or network,\n" +
			"pid:PID, uid:UID, gid:GID, security:LABEL, vsock-cid:CID or vsock-port:PORT.",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			var opts Options
			for _, list := range []struct {
				key   string
				rules *[]Rule
			}{{"allow", &opts.Allow}, {"deny", &opts.Deny}} {
				for _, v := range p.All(list.key) {
					rules, err := ParseRules(v)
					if err != nil {
						return nil, fmt.Errorf("%s=%s: %w", list.key, v, err)
					}
					*list.rules = append(*list.rules, rules...)
				}
			}
			return New(next, opts), nil
		},
	}
}

// New returns a layer that lets clients reach next as opts say.
func New(next server.Layer, opts Options) server.Layer {
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts}
}

type filter struct {
	server.PassThrough
	opts Options
}

func (f *filter) Name() string { return "ip" }

func (f *filter) Preconnect(ctx context.Context, info server.ConnInfo) error {
	if err := f.opts.check(info); err != nil {
		return err
	}
	return f.Next.Preconnect(ctx, info)
}

// Permitted reports whether the rules let the client described by info in.
func (o Options) Permitted(info server.ConnInfo) bool { return o.check(info) == nil }

// check returns nil if the rules let the client in, and otherwise an error naming the
// client and the deny rule it matched.
func (o Options) check(info server.ConnInfo) error {
	for _, r := range o.Allow {
		if r.matches(info) {
			return nil
		}
	}
	for _, r := range o.Deny {
		if r.matches(info) {
			return server.Errorf(syscall.EPERM, "ip: client %s denied by rule deny=%s", describe(info), r)
		}
	}
	return nil
}

// describe names a client in the log: its address, and who it is on a Unix socket.
func describe(info server.ConnInfo) string {
	if p := info.Peer; p != nil {
		return fmt.Sprintf("on a Unix socket (pid %d, uid %d, gid %d)", p.PID, p.UID, p.GID)
	}
	if info.Remote == nil {
		return "at an unknown address"
	}
	// %v rather than the methods: a Unix peer's address may be a nil *net.UnixAddr.
	return fmt.Sprintf("%v", info.Remote)
}
