package protocol

// AppendSimpleReply appends a simple reply header; the data of a successful read follows.
func AppendSimpleReply(b []byte, errno Errno, cookie uint64) []byte {
	b = be.AppendUint32(b, SimpleReplyMagic)
	b = be.AppendUint32(b, uint32(errno))
	return be.AppendUint64(b, cookie)
}

// A ReplyHeader is a decoded reply header of any of the three kinds. A simple reply, which
// is the whole reply, decodes with Flags set to ReplyFlagDone.
type ReplyHeader struct {
	// Magic says which kind: SimpleReplyMagic, StructuredReplyMagic or
	// ExtendedReplyMagic.
	Magic  uint32
	Errno  Errno // simple replies
	Flags  ReplyFlags
	Type   ReplyType
	Cookie uint64
	Offset uint64 // extended replies
	Length uint64 // payload length of structured and extended replies
}

// ReplyHeaderSize returns the size of the reply header that starts with magic, or 0 for an
// unknown magic.
func ReplyHeaderSize(magic uint32) int {
	switch magic {
	case SimpleReplyMagic:
		return SimpleReplySize
	case StructuredReplyMagic:
		return StructuredReplySize
	case ExtendedReplyMagic:
		return ExtendedReplySize
	}
	return 0
}

// DecodeReplyHeader decodes a reply header of any kind into h, and checks a structured or
// extended payload length against limit. b must hold ReplyHeaderSize of its magic.
func DecodeReplyHeader(b []byte, limit uint64, h *ReplyHeader) error {
	if len(b) < 4 {
		return short("reply", len(b), 4)
	}
	h.Magic = be.Uint32(b)
	n := ReplyHeaderSize(h.Magic)
	if n == 0 {
		return formatErrorf("reply", "unknown magic %#x", h.Magic)
	}
	if len(b) < n {
		return short("reply", len(b), n)
	}
	switch h.Magic {
	case SimpleReplyMagic:
		*h = ReplyHeader{Magic: h.Magic, Errno: Errno(be.Uint32(b[4:])), Cookie: be.Uint64(b[8:]), Flags: ReplyFlagDone}
		return nil
	case StructuredReplyMagic:
		h.Flags, h.Type = ReplyFlags(be.Uint16(b[4:])), ReplyType(be.Uint16(b[6:]))
		h.Cookie, h.Offset, h.Length = be.Uint64(b[8:]), 0, uint64(be.Uint32(b[16:]))
	case ExtendedReplyMagic:
		h.Flags, h.Type = ReplyFlags(be.Uint16(b[4:])), ReplyType(be.Uint16(b[6:]))
		h.Cookie, h.Offset, h.Length = be.Uint64(b[8:]), be.Uint64(b[16:]), be.Uint64(b[24:])
	}
	h.Errno = 0
	return checkLength("reply payload", h.Length, limit)
}

// AppendChunkHeader appends a structured reply chunk header or, when extended, an
// extended reply header (which carries the request's offset). The payload follows. A
// structured header has no offset and keeps the low 32 bits of length; the caller checks
// that it fits.
func AppendChunkHeader(b []byte, extended bool, flags ReplyFlags, t ReplyType, cookie, offset, length uint64) []byte {
	if extended {
		b = be.AppendUint32(b, ExtendedReplyMagic)
	} else {
		b = be.AppendUint32(b, StructuredReplyMagic)
	}
	b = be.AppendUint16(b, uint16(flags))
	b = be.AppendUint16(b, uint16(t))
	b = be.AppendUint64(b, cookie)
	if extended {
		b = be.AppendUint64(b, offset)
		return be.AppendUint64(b, length)
	}
	return be.AppendUint32(b, uint32(length))
}

// Payloads of the reply chunk types.

// OffsetDataHeaderSize is the size of the offset that starts an OFFSET_DATA payload.
const OffsetDataHeaderSize = 8

// AppendOffsetData appends the start of an NBD_REPLY_TYPE_OFFSET_DATA payload: the offset
// the data that follows it starts at.
func AppendOffsetData(b []byte, offset uint64) []byte { return be.AppendUint64(b, offset) }

// AppendOffsetHole appends the payload of NBD_REPLY_TYPE_OFFSET_HOLE.
func AppendOffsetHole(b []byte, offset uint64, size uint32) []byte {
	b = be.AppendUint64(b, offset)
	return be.AppendUint32(b, size)
}

// DecodeOffsetHole decodes the payload of NBD_REPLY_TYPE_OFFSET_HOLE.
func DecodeOffsetHole(p []byte) (offset uint64, size uint32, err error) {
	if len(p) != 12 {
		return 0, 0, formatErrorf("hole chunk", "payload of %d bytes, want 12", len(p))
	}
	if size = be.Uint32(p[8:]); size == 0 {
		return 0, 0, formatErrorf("hole chunk", "hole of length zero")
	}
	return be.Uint64(p), size, nil
}

// A BlockDescriptor is one extent of a block status reply.
type BlockDescriptor struct {
	Length uint64
	Flags  uint64
}

// AppendBlockStatusHeader appends the start of a block status payload: the meta context
// ID and, for NBD_REPLY_TYPE_BLOCK_STATUS_EXT, the count of descriptors that follow.
func AppendBlockStatusHeader(b []byte, extended bool, id uint32, count uint32) []byte {
	b = be.AppendUint32(b, id)
	if extended {
		b = be.AppendUint32(b, count)
	}
	return b
}

// AppendBlockDescriptor appends one descriptor: 32-bit fields, or 64-bit when extended.
// The caller checks that a compact descriptor's fields fit in 32 bits.
func AppendBlockDescriptor(b []byte, extended bool, d BlockDescriptor) []byte {
	if extended {
		b = be.AppendUint64(b, d.Length)
		return be.AppendUint64(b, d.Flags)
	}
	b = be.AppendUint32(b, uint32(d.Length))
	return be.AppendUint32(b, uint32(d.Flags))
}

// DecodeBlockStatus decodes an NBD_REPLY_TYPE_BLOCK_STATUS or, when extended,
// NBD_REPLY_TYPE_BLOCK_STATUS_EXT payload, appending its descriptors to ds.
func DecodeBlockStatus(p []byte, extended bool, ds []BlockDescriptor) (id uint32, _ []BlockDescriptor, err error) {
	const msg = "block status chunk"
	head, size := 4, BlockDescriptorSize
	if extended {
		head, size = 8, BlockDescriptorExtSize
	}
	if len(p) < head+size || (len(p)-head)%size != 0 {
		return 0, ds, formatErrorf(msg, "payload of %d bytes is not %d + %dn with n > 0", len(p), head, size)
	}
	id = be.Uint32(p)
	n := (len(p) - head) / size
	if extended {
		if c := be.Uint32(p[4:]); int(c) != n {
			return 0, ds, formatErrorf(msg, "count %d but %d descriptors", c, n)
		}
	}
	for i := head; i < len(p); i += size {
		var d BlockDescriptor
		if extended {
			d = BlockDescriptor{Length: be.Uint64(p[i:]), Flags: be.Uint64(p[i+8:])}
		} else {
			d = BlockDescriptor{Length: uint64(be.Uint32(p[i:])), Flags: uint64(be.Uint32(p[i+4:]))}
		}
		if d.Length == 0 {
			return 0, ds, formatErrorf(msg, "descriptor of length zero")
		}
		ds = append(ds, d)
	}
	return id, ds, nil
}

// AppendErrorChunk appends the payload of NBD_REPLY_TYPE_ERROR or, when hasOffset,
// NBD_REPLY_TYPE_ERROR_OFFSET. A message longer than MaxStringLength is cut.
func AppendErrorChunk(b []byte, errno Errno, message string, hasOffset bool, offset uint64) []byte {
	if len(message) > MaxStringLength {
		message = message[:MaxStringLength]
	}
	b = be.AppendUint32(b, uint32(errno))
	b = be.AppendUint16(b, uint16(len(message)))
	b = append(b, message...)
	if hasOffset {
		b = be.AppendUint64(b, offset)
	}
	return b
}

// ErrorChunkSize returns the payload size of an error chunk with a message of n bytes.
func ErrorChunkSize(n int, hasOffset bool) int {
	n = min(n, MaxStringLength) + 6
	if hasOffset {
		n += 8
	}
	return n
}

// An ErrorChunk is a decoded error chunk payload.
type ErrorChunk struct {
	Errno     Errno
	Message   string
	HasOffset bool
	Offset    uint64
}

// DecodeErrorChunk decodes the payload of an error chunk of type t. Unknown error types
// are decoded as far as their common part goes.
func DecodeErrorChunk(t ReplyType, p []byte) (ErrorChunk, error) {
	const msg = "error chunk"
	if len(p) < 6 {
		return ErrorChunk{}, short(msg, len(p), 6)
	}
	c := ErrorChunk{Errno: Errno(be.Uint32(p))}
	if c.Errno == 0 {
		return ErrorChunk{}, formatErrorf(msg, "error number zero")
	}
	n := int(be.Uint16(p[4:]))
	if n > len(p)-6 {
		return ErrorChunk{}, formatErrorf(msg, "message of %d bytes in %d", n, len(p)-6)
	}
	c.Message = string(p[6 : 6+n])
	rest := p[6+n:]
	if t == ReplyTypeErrorOffset {
		if len(rest) != 8 {
			return ErrorChunk{}, formatErrorf(msg, "offset of %d bytes, want 8", len(rest))
		}
		c.HasOffset, c.Offset = true, be.Uint64(rest)
	}
	return c, nil
}
