package protocol

// A Request is a transmission-phase request header, compact or extended. For a compact
// request Length holds 32 bits.
type Request struct {
	Flags  CmdFlags
	Type   Cmd
	Cookie uint64
	Offset uint64
	// Length is the payload length of a write (and of any request with
	// CmdFlagPayloadLen) or the effect length of other requests.
	Length uint64
}

// RequestSize returns the size of a request header: RequestHeaderSize, or
// ExtendedRequestSize when extended headers were negotiated.
func RequestSize(extended bool) int {
	if extended {
		return ExtendedRequestSize
	}
	return RequestHeaderSize
}

// HasPayload reports whether a payload follows the request header: always for
// NBD_CMD_WRITE and, with extended headers, for any request with CmdFlagPayloadLen. The
// specification asks extended writes to set the flag too, but qemu does not, and its
// server, like this one, reads a write's payload either way.
func (r *Request) HasPayload(extended bool) bool {
	return r.Type == CmdWrite || (extended && r.Flags&CmdFlagPayloadLen != 0)
}

// AppendRequest appends a request header. A compact header keeps the low 32 bits of
// Length; the caller checks that it fits.
func AppendRequest(b []byte, r *Request, extended bool) []byte {
	if extended {
		b = be.AppendUint32(b, ExtendedRequestMagic)
	} else {
		b = be.AppendUint32(b, RequestMagic)
	}
	b = be.AppendUint16(b, uint16(r.Flags))
	b = be.AppendUint16(b, uint16(r.Type))
	b = be.AppendUint64(b, r.Cookie)
	b = be.AppendUint64(b, r.Offset)
	if extended {
		return be.AppendUint64(b, r.Length)
	}
	return be.AppendUint32(b, uint32(r.Length))
}

// DecodeRequest decodes a request header of RequestSize(extended) bytes into r. It checks
// the magic only: what the fields mean is for the server to judge.
func DecodeRequest(b []byte, extended bool, r *Request) error {
	n := RequestSize(extended)
	if len(b) < n {
		return short("request", len(b), n)
	}
	want := RequestMagic
	if extended {
		want = ExtendedRequestMagic
	}
	if m := be.Uint32(b); m != want {
		return formatErrorf("request", "magic %#x, want %#x", m, want)
	}
	r.Flags = CmdFlags(be.Uint16(b[4:]))
	r.Type = Cmd(be.Uint16(b[6:]))
	r.Cookie = be.Uint64(b[8:])
	r.Offset = be.Uint64(b[16:])
	if extended {
		r.Length = be.Uint64(b[24:])
	} else {
		r.Length = uint64(be.Uint32(b[24:]))
	}
	return nil
}

// AppendBlockStatusPayload appends the payload of an extended NBD_CMD_BLOCK_STATUS request
// that sets CmdFlagPayloadLen: the effect length and the meta context IDs wanted.
func AppendBlockStatusPayload(b []byte, length uint64, ids []uint32) []byte {
	b = be.AppendUint64(b, length)
	for _, id := range ids {
		b = be.AppendUint32(b, id)
	}
	return b
}

// DecodeBlockStatusPayload decodes the payload of an NBD_CMD_BLOCK_STATUS request that sets
// CmdFlagPayloadLen, appending the IDs to ids.
func DecodeBlockStatusPayload(p []byte, ids []uint32) (length uint64, _ []uint32, err error) {
	if len(p) < 8 || (len(p)-8)%4 != 0 {
		return 0, ids, formatErrorf("block status payload", "%d bytes is not 8 + 4n", len(p))
	}
	for i := 8; i < len(p); i += 4 {
		ids = append(ids, be.Uint32(p[i:]))
	}
	return be.Uint64(p), ids, nil
}
