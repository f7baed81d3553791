// Package protocol encodes and decodes the messages of the Network Block Device (NBD)
// protocol: the oldstyle and fixed newstyle handshakes, options and their replies, requests,
// simple replies, structured and extended reply chunks.
//
// The package does no I/O policy and starts no goroutines. Fixed-size headers are encoded
// into and decoded from caller-supplied byte slices without allocating; variable-size
// payloads are checked against a caller-set limit before anything is allocated for them.
// Malformed input gives an error of type [*FormatError] or [*TooLargeError] that says what
// was wrong; input shorter than a message's fixed part gives an error wrapping
// [ErrShortMessage].
//
// The names follow the specification with the NBD_ prefix dropped and Go casing applied:
// NBD_OPT_GO is [OptGo], NBD_CMD_FLAG_FUA is [CmdFlagFUA], NBD_REPLY_TYPE_OFFSET_HOLE is
// [ReplyTypeOffsetHole]. The specification is
// https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md.
//
// Package client, below this one, is a complete NBD client built on it.
package protocol
