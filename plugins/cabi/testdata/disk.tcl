# A read-only 1 MiB disk of the letter T, for nbdkit's tcl plugin.
proc plugin_open {readonly} {
    return 1
}

proc get_size {h} {
    return 1048576
}

proc pread {h count offset} {
    return [string repeat T $count]
}
