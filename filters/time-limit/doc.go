// Package timelimit is gonbd's time-limit filter: it disconnects each client a fixed
// time after its connection was accepted, however busy or idle the client is.
//
// The limit is counted from the moment the server accepted the connection, so the
// handshake counts too. When it is reached the server reads no further request from the
// client, answers the requests already in flight, and closes the connection, as
// nbdkit_disconnect does without force. Other connections are not affected.
//
// Durations are written as nbdkit writes delays: a number of seconds ("30", "1.5"), or
// a number with a unit ("500ms", "30s", "2m", "1h"), or a sum of those ("1m30s").
//
// From the command line:
//
//	gonbd --filter=time-limit file disk.img time-limit=10m
//
// From Go, [New] wraps a layer with [Options]. [Spec] is what the gonbd command links.
package timelimit
