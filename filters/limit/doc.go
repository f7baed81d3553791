// Package limit is gonbd's limit filter, after nbdkit's: it limits how many clients may
// use the server at once. While the limit is reached, a client that connects is
// dropped before its handshake (the server closes the socket), and the refusal is
// logged.
//
// As in nbdkit, a client counts once it opens an export (NBD_OPT_GO, or NBD_OPT_INFO
// before it), so that probes that connect and leave and clients that only list the
// exports take no slot; it counts until its connection closes. limit=0 means no limit.
//
// From the command line:
//
//	gonbd --filter=limit file disk.img           # one client at a time
//	gonbd --filter=limit file disk.img limit=4
//
// From Go, [New] wraps a layer. [Spec] is what the gonbd command links.
package limit
