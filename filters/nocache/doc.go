// Package nocache is gonbd's nocache filter, after nbdkit's: it changes how an export
// handles NBD_CMD_CACHE (prefetch) requests, to measure what they are worth.
//
// From the command line:
//
//	gonbd --filter=nocache file disk.img                 # clients may not send cache requests
//	gonbd --filter=nocache file disk.img cachemode=emulate
//	gonbd --filter=nocache file disk.img cachemode=nop
//
// With cachemode=none (the default) the export does not advertise cache requests. With
// cachemode=emulate it does, and serves each by reading the range from the plugin and
// discarding the data, whether or not the plugin could prefetch by itself. With
// cachemode=nop it does, and answers each at once without doing anything.
//
// Programs that embed the server put the filter in front of a layer with [New]:
//
//	layer := nocache.New(next, nocache.Emulate)
//
// [Spec] is what the gonbd command links to offer the filter by name.
package nocache
