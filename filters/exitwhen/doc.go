// Package exitwhen is gonbd's exitwhen filter, after nbdkit's: it shuts the server down
// gracefully when something happens outside it — a file is created or deleted, a pipe
// or socket is closed at the other end, a process exits, or a script says so (exit
// status 88).
//
// Once an event has happened, new clients are turned away before their handshake, and
// the server shuts down (gonbd exits with status 0) as soon as no client is connected;
// clients already connected are served until they leave. An event that has happened
// before the server starts shuts it down at once. A client counts from the first
// export its connection opens until the connection closes.
//
// The events are checked when a client connects, when one disconnects, and in the
// background every exit-when-poll= seconds (60 by default).
//
// The parameters are nbdkit's (exit-when-file-created=, exit-when-file-deleted=,
// exit-when-pipe-closed=, exit-when-process-exits=, exit-when-script=,
// exit-when-poll=), and also exitwhen=KIND:ARG (file-created:PATH, file-deleted:PATH,
// pipe-closed:FD, fd-closed:FD, process-exits:PID, script:SCRIPT) and exitwhen-poll=.
// Each event parameter may be repeated; any event shuts the server down.
//
// From the command line:
//
//	gonbd --filter=exitwhen memory 1G exit-when-file-created=/tmp/stop
//	gonbd --filter=exitwhen memory 1G exitwhen=process-exits:1234 exitwhen-poll=5
//
// From Go, [New] wraps a layer with [Options]. [Spec] is what the gonbd command links.
package exitwhen
