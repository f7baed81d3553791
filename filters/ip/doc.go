// Package ip is gonbd's ip filter, after nbdkit's: it lets clients in or turns them
// away by their address (IPv4, IPv6, Unix socket, vsock) or, on Unix sockets, by the
// process ID, user ID, group ID or security label of the process at the other end.
//
// The rules are checked before the handshake, in nbdkit's order:
//
//  1. a client that matches a rule of the allow list is let in;
//  2. otherwise a client that matches a rule of the deny list is dropped;
//  3. otherwise the client is let in.
//
// The order of the allow= and deny= parameters on the command line does not matter,
// and either may be repeated. Each holds a comma-separated list of rules:
//
//	all, any             every client
//	allipv4, anyipv4     every IPv4 client
//	allipv6, anyipv6     every IPv6 client
//	allunix, anyunix     every client on a Unix socket (unix is accepted too)
//	allvsock, anyvsock   every client on an AF_VSOCK socket
//	A.B.C.D              one IPv4 address
//	A.B.C.D/NN           an IPv4 network
//	A:B:...              one IPv6 address
//	A:B:.../NN           an IPv6 network
//	pid:PID              the process PID, on a Unix socket (Linux)
//	uid:UID              processes of user UID, on a Unix socket
//	gid:GID              processes of group GID, on a Unix socket
//	security:LABEL       processes with the security label LABEL (SELinux or
//	                     AppArmor), on a Unix socket
//	vsock-cid:CID        the virtual machine CID, on a vsock socket
//	vsock-port:PORT      the source port PORT, on a vsock socket
//
// Parsing is strict: a rule that is not exactly one of these (a stray space, an empty
// item, a prefix length that is not a number in range, a number with trailing garbage)
// stops the server from starting, because a rule misread as another would let in
// clients it was meant to keep out. Host bits beyond a network's prefix length are
// ignored (10.1.2.3/8 is 10.0.0.0/8).
//
// An IPv4 client connected to an IPv6 socket, which the system shows as an
// IPv4-mapped IPv6 address (::ffff:A.B.C.D), matches the IPv4 rules as A.B.C.D.
//
// From the command line:
//
//	gonbd --filter=ip file disk.img allow=127.0.0.1,::1 deny=all
//	gonbd -U /run/nbd.sock --filter=ip file disk.img allow=uid:1000 deny=all
//
// From Go, [New] wraps a layer with [Options] made by [ParseRules]. [Spec] is what the
// gonbd command links.
package ip
