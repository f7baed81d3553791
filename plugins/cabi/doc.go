// Package cabi runs nbdkit's C plugins — shared objects written against
// nbdkit-plugin(3), API versions 1 and 2 — in gonbd, unchanged:
//
//	gonbd /usr/lib/x86_64-linux-gnu/nbdkit/plugins/nbdkit-python-plugin.so script.py
//	gonbd ./my-plugin.so key=value
//	gonbd python script.py      # no Go plugin "python": nbdkit's plugin directory
//
// [Load] opens the shared object with dlopen, calls its plugin_init, checks its API
// version and struct size as nbdkit does, and calls its load callback. The resulting
// [Library] is a [server.Plugin] whose handles call the plugin's callbacks, with
// nbdkit's defaults for those it leaves out; [Library.Spec] describes it to the
// command line with the name, magic parameter and help from the C struct.
//
// The functions nbdkit offers its plugins (nbdkit_error, nbdkit_parse_size,
// nbdkit_export_name, nbdkit_add_extent, ...) are implemented in this package's C
// files and exported from the executable: the package links with -rdynamic, so any
// program importing it gets them in its dynamic symbol table. A plugin that needs a
// function gonbd lacks fails to load with the dynamic linker's message naming it.
//
// C code runs in gonbd's process: a plugin that crashes in a callback crashes gonbd,
// as it would crash nbdkit. A plugin that returns errors does not: its errno (from
// nbdkit_set_error, or errno itself when it sets errno_is_preserved) becomes the
// client's NBD error, and its nbdkit_error message the server's log line.
//
// The package needs cgo on a Unix system. Elsewhere, or with CGO_ENABLED=0, it builds
// to a stub whose [Load] fails with [ErrNoCgo]; [Available] says which build this is.
package cabi
