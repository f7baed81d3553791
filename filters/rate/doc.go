// Package rate is gonbd's rate filter, after nbdkit's: it limits the bandwidth of the
// server as a whole, of each connection, or both, with token buckets, to simulate a
// slow network or to keep a copy from hogging one.
//
// From the command line:
//
//	gonbd --filter=rate memory 64M rate=1M                     # 1 Mbit/s in all
//	gonbd --filter=rate memory 64M connection-rate=50K         # 50 kbit/s each
//	gonbd --filter=rate memory 64M rate=1M rate-file=/tmp/rate # adjustable
//
// Rates are bits per second with the size suffixes of the command line (K, M, G are
// powers of 1024). Reads and writes have separate limits; only their data counts, as
// other requests carry almost nothing over the network. A client idle for a while may
// burst for burstiness seconds' worth of data (2 by default) before the limit bites.
// rate-file and connection-rate-file name files whose first line replaces the rate
// while the server runs; they are read at most once a second.
//
// From Go, [New] wraps a layer with [Options]; [Spec] is what the gonbd command links.
package rate
