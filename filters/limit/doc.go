// Package limit is gonbd's limit filter, after nbdkit's: it limits how many clients may
// be connected at once. A client that connects while the limit is reached is dropped
// before its handshake (the server closes the socket), and the refusal is logged.
//
// A client counts from the moment it is let in until its connection closes, whether it
// opened an export or only listed them. limit=0 means no limit.
//
// From the command line:
//
//	gonbd --filter=limit file disk.img           # one client at a time
//	gonbd --filter=limit file disk.img limit=4
//
// From Go, [New] wraps a layer. [Spec] is what the gonbd command links.
package limit
