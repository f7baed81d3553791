package protocol

import "math"

// An OptionHeader is the fixed part of an option the client sends: magic, type, payload
// length.
type OptionHeader struct {
	Opt    Opt
	Length uint32
}

// AppendOptionHeader appends an option header; the payload follows it.
func AppendOptionHeader(b []byte, opt Opt, length uint32) []byte {
	b = be.AppendUint64(b, OptMagic)
	b = be.AppendUint32(b, uint32(opt))
	return be.AppendUint32(b, length)
}

// DecodeOptionHeader decodes a 16-byte option header and checks its length against limit
// before the caller allocates anything for the payload.
func DecodeOptionHeader(b []byte, limit uint32) (OptionHeader, error) {
	if len(b) < OptionHeaderSize {
		return OptionHeader{}, short("option", len(b), OptionHeaderSize)
	}
	if m := be.Uint64(b); m != OptMagic {
		return OptionHeader{}, formatErrorf("option", "magic %#x, want %#x", m, OptMagic)
	}
	h := OptionHeader{Opt: Opt(be.Uint32(b[8:])), Length: be.Uint32(b[12:])}
	return h, checkLength("option payload", uint64(h.Length), uint64(limit))
}

// An OptionReplyHeader is the fixed part of the server's reply to an option.
type OptionReplyHeader struct {
	Opt    Opt
	Type   Rep
	Length uint32
}

// AppendOptionReplyHeader appends an option reply header; the payload follows it.
func AppendOptionReplyHeader(b []byte, opt Opt, rep Rep, length uint32) []byte {
	b = be.AppendUint64(b, OptReplyMagic)
	b = be.AppendUint32(b, uint32(opt))
	b = be.AppendUint32(b, uint32(rep))
	return be.AppendUint32(b, length)
}

// DecodeOptionReplyHeader decodes a 20-byte option reply header and checks its length
// against limit.
func DecodeOptionReplyHeader(b []byte, limit uint32) (OptionReplyHeader, error) {
	if len(b) < OptionReplyHeaderSize {
		return OptionReplyHeader{}, short("option reply", len(b), OptionReplyHeaderSize)
	}
	if m := be.Uint64(b); m != OptReplyMagic {
		return OptionReplyHeader{}, formatErrorf("option reply", "magic %#x, want %#x", m, OptReplyMagic)
	}
	h := OptionReplyHeader{Opt: Opt(be.Uint32(b[8:])), Type: Rep(be.Uint32(b[12:])), Length: be.Uint32(b[16:])}
	return h, checkLength("option reply payload", uint64(h.Length), uint64(limit))
}

// An InfoRequest is the payload of NBD_OPT_INFO and NBD_OPT_GO.
type InfoRequest struct {
	Name  string
	Infos []Info
}

// AppendInfoRequest appends the payload of NBD_OPT_INFO or NBD_OPT_GO.
func AppendInfoRequest(b []byte, r InfoRequest) []byte {
	b = appendString32(b, r.Name)
	b = be.AppendUint16(b, uint16(len(r.Infos)))
	for _, i := range r.Infos {
		b = be.AppendUint16(b, uint16(i))
	}
	return b
}

// DecodeInfoRequest decodes the payload of NBD_OPT_INFO or NBD_OPT_GO. Names longer than
// maxName bytes are refused with a *TooLargeError.
func DecodeInfoRequest(p []byte, maxName uint32) (InfoRequest, error) {
	const msg = "info request"
	name, rest, err := decodeString32(msg, p, maxName)
	if err != nil {
		return InfoRequest{}, err
	}
	if len(rest) < 2 {
		return InfoRequest{}, formatErrorf(msg, "no count of information requests")
	}
	n := int(be.Uint16(rest))
	rest = rest[2:]
	if len(rest) != 2*n {
		return InfoRequest{}, formatErrorf(msg, "%d information requests in %d bytes", n, len(rest))
	}
	r := InfoRequest{Name: name, Infos: make([]Info, n)}
	for i := range r.Infos {
		r.Infos[i] = Info(be.Uint16(rest[2*i:]))
	}
	return r, nil
}

// A MetaContextRequest is the payload of NBD_OPT_LIST_META_CONTEXT and
// NBD_OPT_SET_META_CONTEXT.
type MetaContextRequest struct {
	Name    string
	Queries []string
}

// AppendMetaContextRequest appends the payload of NBD_OPT_LIST_META_CONTEXT or
// NBD_OPT_SET_META_CONTEXT.
func AppendMetaContextRequest(b []byte, r MetaContextRequest) []byte {
	b = appendString32(b, r.Name)
	b = be.AppendUint32(b, uint32(len(r.Queries)))
	for _, q := range r.Queries {
		b = appendString32(b, q)
	}
	return b
}

// DecodeMetaContextRequest decodes the payload of NBD_OPT_LIST_META_CONTEXT or
// NBD_OPT_SET_META_CONTEXT. Names and queries longer than maxString bytes are refused.
func DecodeMetaContextRequest(p []byte, maxString uint32) (MetaContextRequest, error) {
	const msg = "meta context request"
	name, rest, err := decodeString32(msg, p, maxString)
	if err != nil {
		return MetaContextRequest{}, err
	}
	if len(rest) < 4 {
		return MetaContextRequest{}, formatErrorf(msg, "no count of queries")
	}
	n := be.Uint32(rest)
	rest = rest[4:]
	// Each query takes at least 4 bytes: check before allocating for n of them.
	if uint64(n)*4 > uint64(len(rest)) {
		return MetaContextRequest{}, formatErrorf(msg, "%d queries in %d bytes", n, len(rest))
	}
	r := MetaContextRequest{Name: name, Queries: make([]string, 0, n)}
	for range n {
		var q string
		if q, rest, err = decodeString32(msg, rest, maxString); err != nil {
			return MetaContextRequest{}, err
		}
		r.Queries = append(r.Queries, q)
	}
	if len(rest) != 0 {
		return MetaContextRequest{}, formatErrorf(msg, "%d bytes after the last query", len(rest))
	}
	return r, nil
}

// AppendServerReply appends the payload of NBD_REP_SERVER, one export of a list.
func AppendServerReply(b []byte, name, description string) []byte {
	b = appendString32(b, name)
	return append(b, description...)
}

// DecodeServerReply decodes the payload of NBD_REP_SERVER.
func DecodeServerReply(p []byte) (name, description string, err error) {
	// The name's only bound is the payload: a longer one is malformed, not too large.
	name, rest, err := decodeString32("server reply", p, math.MaxUint32)
	if err != nil {
		return "", "", err
	}
	return name, string(rest), nil
}

// BlockSizeInfo holds the constraints of NBD_INFO_BLOCK_SIZE.
type BlockSizeInfo struct {
	Minimum, Preferred, Maximum uint32
}

// AppendInfoExport appends the payload of NBD_REP_INFO with NBD_INFO_EXPORT.
func AppendInfoExport(b []byte, size uint64, flags TransmissionFlags) []byte {
	b = be.AppendUint16(b, uint16(InfoExport))
	b = be.AppendUint64(b, size)
	return be.AppendUint16(b, uint16(flags))
}

// AppendInfoString appends the payload of NBD_REP_INFO with NBD_INFO_NAME or
// NBD_INFO_DESCRIPTION.
func AppendInfoString(b []byte, t Info, s string) []byte {
	b = be.AppendUint16(b, uint16(t))
	return append(b, s...)
}

// AppendInfoBlockSize appends the payload of NBD_REP_INFO with NBD_INFO_BLOCK_SIZE.
func AppendInfoBlockSize(b []byte, bs BlockSizeInfo) []byte {
	b = be.AppendUint16(b, uint16(InfoBlockSize))
	b = be.AppendUint32(b, bs.Minimum)
	b = be.AppendUint32(b, bs.Preferred)
	return be.AppendUint32(b, bs.Maximum)
}

// An InfoReply is a decoded NBD_REP_INFO payload. Which fields are set depends on Type.
type InfoReply struct {
	Type        Info
	Size        uint64            // InfoExport
	Flags       TransmissionFlags // InfoExport
	Name        string            // InfoName
	Description string            // InfoDescription
	BlockSize   BlockSizeInfo     // InfoBlockSize
}

// DecodeInfoReply decodes an NBD_REP_INFO payload. Unknown types are returned with only
// Type set, for the caller to ignore as the specification asks.
func DecodeInfoReply(p []byte) (InfoReply, error) {
	const msg = "info reply"
	if len(p) < 2 {
		return InfoReply{}, short(msg, len(p), 2)
	}
	r := InfoReply{Type: Info(be.Uint16(p))}
	p = p[2:]
	switch r.Type {
	case InfoExport:
		if len(p) != 10 {
			return InfoReply{}, formatErrorf(msg, "export information of %d bytes, want 10", len(p))
		}
		r.Size, r.Flags = be.Uint64(p), TransmissionFlags(be.Uint16(p[8:]))
	case InfoName:
		r.Name = string(p)
	case InfoDescription:
		r.Description = string(p)
	case InfoBlockSize:
		if len(p) != 12 {
			return InfoReply{}, formatErrorf(msg, "block size information of %d bytes, want 12", len(p))
		}
		r.BlockSize = BlockSizeInfo{be.Uint32(p), be.Uint32(p[4:]), be.Uint32(p[8:])}
	}
	return r, nil
}

// AppendMetaContextReply appends the payload of NBD_REP_META_CONTEXT.
func AppendMetaContextReply(b []byte, id uint32, name string) []byte {
	b = be.AppendUint32(b, id)
	return append(b, name...)
}

// DecodeMetaContextReply decodes the payload of NBD_REP_META_CONTEXT.
func DecodeMetaContextReply(p []byte) (id uint32, name string, err error) {
	if len(p) < 4 {
		return 0, "", short("meta context reply", len(p), 4)
	}
	return be.Uint32(p), string(p[4:]), nil
}

func appendString32(b []byte, s string) []byte {
	b = be.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// decodeString32 decodes a string prefixed by its 32-bit length, refusing lengths above
// limit or beyond p.
func decodeString32(msg string, p []byte, limit uint32) (s string, rest []byte, err error) {
	if len(p) < 4 {
		return "", nil, formatErrorf(msg, "string length cut short")
	}
	n := be.Uint32(p)
	if n > limit {
		// Name the length only here: building the text on every call would allocate.
		return "", nil, &TooLargeError{What: msg + " string", Length: uint64(n), Limit: uint64(limit)}
	}
	if uint64(n) > uint64(len(p)-4) {
		return "", nil, formatErrorf(msg, "string of %d bytes in %d", n, len(p)-4)
	}
	return string(p[4 : 4+n]), p[4+n:], nil
}
