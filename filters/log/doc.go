// Package logfilter is gonbd's log filter, after nbdkit's: it logs every call that
// passes through it (connections, reads, writes, zeroes, block status...) to a file in
// nbdkit's log format, so that existing log parsers work, and/or runs a script for
// each message.
//
// From the command line:
//
//	gonbd --filter=log file disk.img logfile=disk.log
//	gonbd --filter=cow --filter=log file disk.img logfile=disk.log2
//	gonbd -f --filter=log null 10M logscript='echo $connection $type $id $act $offset >&2'
//
// As the first filter, it shows the requests as clients sent them; further in, how
// the filters in front changed them. A log file looks like this:
//
//	2020-08-06 02:07:23.080712 connection=1 Connect export="" tls=0 size=0x400 minsize=0x1 prefsize=0x200 maxsize=0xffffffff write=1 flush=1 rotational=0 trim=1 zero=2 fua=2 extents=1 cache=2 fast_zero=1
//	2020-08-06 02:07:23.080907 connection=1 Read id=1 offset=0x0 count=0x200 ...
//	2020-08-06 02:07:23.080927 connection=1 ...Read id=1 return=0
//	2020-08-06 02:07:23.081255 connection=1 Disconnect transactions=1
//
// The package is named logfilter so as not to be confused with the standard library's
// log. From Go, [New] wraps a layer with [Options]; [Spec] is what the gonbd command
// links.
package logfilter
