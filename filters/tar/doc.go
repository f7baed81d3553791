// Package tar is gonbd's tar filter, after nbdkit's: it serves one member (file) of an
// uncompressed tar archive that the plugin serves, without unpacking it. Reads and
// writes go straight to the member's bytes inside the archive, so a writable plugin
// makes a writable export; the member's size is fixed.
//
// From the command line:
//
//	gonbd --filter=tar file disk.tar tar-entry=disk.img
//	gonbd -r --filter=tar file appliance.ova tar-entry=disk1.vmdk
//	gonbd --filter=tar --filter=xz file disk.tar.xz tar-entry=disk.img
//
// The filter reads the archive's headers itself (nbdkit runs GNU tar to do it): GNU,
// ustar and pax headers, with GNU long names and pax paths of any length. The member's
// name must be exactly as stored, as `tar tf` lists it. Members stored sparse
// (tar --sparse) are refused: their data is not one run of bytes in the archive.
//
// From Go, [New] wraps a layer with [Options]. [Spec] is what the gonbd command links.
package tar
