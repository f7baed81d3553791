// Package spinning is gonbd's spinning filter: it makes a plugin behave like a spinning
// hard disk, whose head must seek to where each request starts. Tests of clients and
// file systems use it to see how they cope with a slow, seek-bound disk on fast
// storage, and the time a sequential read saves over a random one.
//
// The export is divided into heads= equal, contiguous zones, each with a head of its
// own (heads=1, the default, is a single head for the whole disk). A read, write, zero
// or cache request moves the head of the zone where it starts: if the head is elsewhere
// the request first waits for a seek of
//
//	min-seek-time + (max-seek-time - min-seek-time) × distance / zone size
//
// and afterwards the head rests where the request ended, so the next sequential
// request seeks not at all. Each head serves one request at a time, seeks included,
// like a real actuator; requests to different zones proceed in parallel. Trim, flush
// and block status do not move heads. The heads are shared by every connection to the
// same export, as a disk's are. Rotational latency is not simulated.
//
// The filter also tells clients that the export is rotational (NBD_FLAG_ROTATIONAL).
//
// From the command line:
//
//	gonbd --filter=spinning memory 1G
//	gonbd --filter=spinning file disk.img heads=4 min-seek-time=2ms max-seek-time=0.05
//
// From Go, [New] wraps a layer with [Options]. [Spec] is what the gonbd command links.
package spinning
