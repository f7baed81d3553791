// Package rotational is gonbd's rotational filter, after nbdkit's: it decides whether
// clients are told that the export is a rotational disk (NBD_FLAG_ROTATIONAL), whatever
// the plugin says. Clients such as the Linux kernel's nbd driver use the flag to choose
// an I/O scheduler that orders requests to spare a disk head's seeks.
//
// From the command line:
//
//	gonbd --filter=rotational file disk.img                  # rotational
//	gonbd --filter=rotational memory 1G rotational=false     # not rotational
//
// From Go, [New] wraps a layer. [Spec] is what the gonbd command links.
package rotational
