// Package openonce is gonbd's openonce filter: the layers behind it are opened once,
// when the first client connects, and every later connection shares that one handle
// until the server shuts down. Plugins whose open is slow or has side effects (logging
// in to a remote server, taking a lock, starting a virtual machine) then do it once
// rather than once per connection, and all clients see the same state.
//
// The shared handle is prepared once, with the first connection's read-only setting,
// and finalized and closed when the server cleans up, after the last connection has
// closed; it is not closed when connections come and go, even if none is left for a
// while. A client asking for another export than the one that is open is refused
// (EINVAL): only one export can be open at a time. A connection that the server makes
// read-only gets a read-only view of the shared handle.
//
// Because requests of every connection reach the one handle, the filter makes a
// plugin that serves one request at a time per connection serve one request at a
// time in all.
//
// From the command line:
//
//	gonbd --filter=openonce curl https://example.com/disk.img
//
// From Go, [New] wraps a layer. [Spec] is what the gonbd command links.
package openonce
