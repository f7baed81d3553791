// Command gonbd is a Network Block Device (NBD) server that serves the exports of a
// plugin, maybe through filters, with the command line of nbdkit:
//
//	gonbd [OPTIONS] PLUGIN [[KEY=]VALUE ...] [--run 'COMMAND ARGS ...']
//
// For example, a 1 GiB RAM disk on a private Unix socket for as long as a client runs:
//
//	gonbd -U - memory 1G --run 'qemu-img info "$uri"'
//
// The plugins and filters are linked into the binary (see linked.go); `gonbd --help`
// lists them. The manual page is docs/gonbd.md in the repository.
//
// The command is a thin layer over package [github.com/gonbd/gonbd/server]: it parses
// the command line, makes the plugin and filters from their specs, and serves them on
// the listeners the options name.
package main
