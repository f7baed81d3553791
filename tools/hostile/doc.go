// Command hostile attacks an NBD server the way a broken or malicious client would, and
// checks after each attack that the server still serves a well-behaved client and
// that data written and flushed before the attacks is intact.
//
// Usage:
//
//	hostile [-seed N] [-random N] [-cycles N] [-v] nbd+unix:///?socket=PATH | nbd://HOST:PORT
//
// The export must be writable and at least 8 MiB: hostile writes a reference pattern
// to its first MiB, flushes it, and checks it after every attack; its attacks write,
// if at all, past 4 MiB. The attacks, in order:
//
//   - malformed handshakes: unknown client flags, options without fixed newstyle, bad
//     option magic, options cut short, garbage after the greeting;
//   - absurd lengths: option payloads up to 4 GiB, names longer than their option, huge
//     meta context counts, requests of 4 GiB and, with extended headers, 2^63 bytes,
//     offsets that overflow;
//   - bad request magic, unknown commands, options and flags;
//   - truncated requests: headers and payloads cut off by a disconnect;
//   - -cycles connections (default 1000) that end at every stage of the handshake;
//   - -random byte sequences (default 3000) from a generator seeded with -seed
//     (default 1), sent raw after the greeting or after a complete handshake.
//
// Every connection has a deadline, so hostile ends even against a server that hangs,
// and fails then. It exits 0 when the server survived everything, 1 otherwise. The
// same seed sends the same bytes. The tests of this package run it against gonbd's
// engine; make check runs them.
package main
