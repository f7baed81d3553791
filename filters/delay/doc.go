// Package delay is gonbd's delay filter, after nbdkit's: it holds each request for a
// fixed time before passing it on, to simulate a slow or distant server or to widen
// the windows of races in clients. To limit bandwidth rather than add latency, use the
// rate filter.
//
// From the command line:
//
//	gonbd --filter=delay file disk.img rdelay=100ms wdelay=100ms
//	gonbd --filter=delay file disk.img delay-zero=1
//
// Each kind of request has its own delay (delay-read, delay-write, delay-zero,
// delay-trim, delay-extents, delay-cache, delay-flush), wdelay sets write, zero and
// trim together, and delay-open and delay-close hold up connecting and
// disconnecting. A delay is whole seconds or "NNms". A request waiting out its delay
// fails with ESHUTDOWN if its connection or the server goes away meanwhile.
//
// From Go, [New] wraps a layer with [Options]; [Spec] is what the gonbd command links.
package delay
