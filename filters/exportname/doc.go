// Package exportname is gonbd's exportname filter, after nbdkit's: it adjusts export
// names between the client and the plugin. It can choose the export a client asking for
// the default ("") gets, change or hide the list of exports clients see
// (NBD_OPT_LIST), refuse exports not named on the command line, and replace the
// descriptions sent with exports (none, a fixed string, or a script's output).
//
// From the command line:
//
//	gonbd --filter=exportname file dir=/srv/disks default-export=file2
//	gonbd --filter=exportname file dir=/srv/disks exportname-list=explicit \
//	    exportname-strict=true exportname=file1 exportname=file3
//
// From Go, [New] wraps a layer with [Options]. [Spec] is what the gonbd command links.
package exportname
