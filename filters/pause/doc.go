// Package pause is gonbd's pause filter, after nbdkit's: it can hold new requests back
// for a while and then let them go on, for example to take a snapshot of the storage
// behind the plugin while clients stay connected.
//
// From the command line:
//
//	gonbd --filter=pause file disk.img pause-control=/run/pause.sock
//	echo p | nc -U /run/pause.sock    # prints P once the plugin is idle
//	echo r | nc -U /run/pause.sock    # prints R
//
// The filter listens on the Unix socket named by pause-control. Each byte received is
// a command: 'p' pauses (requests received afterwards wait) and is answered 'P' once
// the requests that were running have finished; 'r' resumes and is answered 'R'.
// Other bytes are answered 'X', except spaces, tabs and newlines, which are ignored.
//
// From Go, [New] returns a [Filter], whose Pause and Resume methods do the same
// without a socket; [Spec] is what the gonbd command links.
package pause
