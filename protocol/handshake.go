package protocol

import (
	"encoding/binary"
)

var be = binary.BigEndian

// AppendOldstyleGreeting appends the whole oldstyle handshake: the server's only message.
// Its 32-bit flags field carries gflags in the high 16 bits (the specification lets a server
// set no handshake flags here: pass 0) and tflags in the low 16.
func AppendOldstyleGreeting(b []byte, size uint64, gflags uint16, tflags TransmissionFlags) []byte {
	b = be.AppendUint64(b, Magic)
	b = be.AppendUint64(b, OldstyleMagic)
	b = be.AppendUint64(b, size)
	b = be.AppendUint16(b, gflags)
	b = be.AppendUint16(b, uint16(tflags))
	return append(b, make([]byte, 124)...)
}

// OldstyleGreeting is the decoded oldstyle handshake.
type OldstyleGreeting struct {
	Size  uint64
	Flags TransmissionFlags
}

// DecodeOldstyleGreeting decodes the 152 bytes of an oldstyle handshake, Magic included.
// It returns the low 16 bits of the flags field; the high 16 and the reserved zeroes are
// not checked.
func DecodeOldstyleGreeting(b []byte) (OldstyleGreeting, error) {
	if len(b) < OldstyleGreetingSize {
		return OldstyleGreeting{}, short("oldstyle greeting", len(b), OldstyleGreetingSize)
	}
	if m := be.Uint64(b); m != Magic {
		return OldstyleGreeting{}, formatErrorf("greeting", "magic %#x, want %#x", m, Magic)
	}
	if m := be.Uint64(b[8:]); m != OldstyleMagic {
		return OldstyleGreeting{}, formatErrorf("oldstyle greeting", "magic %#x, want %#x", m, OldstyleMagic)
	}
	return OldstyleGreeting{Size: be.Uint64(b[16:]), Flags: TransmissionFlags(be.Uint16(b[26:]))}, nil
}

// AppendNewstyleGreeting appends the server's first newstyle message.
func AppendNewstyleGreeting(b []byte, flags HandshakeFlags) []byte {
	b = be.AppendUint64(b, Magic)
	b = be.AppendUint64(b, OptMagic)
	return be.AppendUint16(b, uint16(flags))
}

// DecodeGreetingStart decodes the first 16 bytes a server sends and reports whether the
// handshake is oldstyle (else newstyle).
func DecodeGreetingStart(b []byte) (oldstyle bool, err error) {
	if len(b) < 16 {
		return false, short("greeting", len(b), 16)
	}
	if m := be.Uint64(b); m != Magic {
		return false, formatErrorf("greeting", "magic %#x, want %#x", m, Magic)
	}
	switch m := be.Uint64(b[8:]); m {
	case OldstyleMagic:
		return true, nil
	case OptMagic:
		return false, nil
	default:
		return false, formatErrorf("greeting", "second magic %#x is neither oldstyle nor newstyle", m)
	}
}

// DecodeNewstyleGreeting decodes the server's 18-byte newstyle greeting.
func DecodeNewstyleGreeting(b []byte) (HandshakeFlags, error) {
	if len(b) < NewstyleGreetingSize {
		return 0, short("newstyle greeting", len(b), NewstyleGreetingSize)
	}
	if old, err := DecodeGreetingStart(b); err != nil {
		return 0, err
	} else if old {
		return 0, formatErrorf("newstyle greeting", "server sent an oldstyle greeting")
	}
	return HandshakeFlags(be.Uint16(b[16:])), nil
}

// AppendClientFlags appends the client's 4-byte answer to the newstyle greeting.
func AppendClientFlags(b []byte, f ClientFlags) []byte { return be.AppendUint32(b, uint32(f)) }

// DecodeClientFlags decodes the client's answer to the newstyle greeting.
func DecodeClientFlags(b []byte) (ClientFlags, error) {
	if len(b) < 4 {
		return 0, short("client flags", len(b), 4)
	}
	return ClientFlags(be.Uint32(b)), nil
}

// AppendExportNameReply appends the server's answer to NBD_OPT_EXPORT_NAME: the size,
// the transmission flags and, unless noZeroes, 124 zero bytes.
func AppendExportNameReply(b []byte, size uint64, flags TransmissionFlags, noZeroes bool) []byte {
	b = be.AppendUint64(b, size)
	b = be.AppendUint16(b, uint16(flags))
	if !noZeroes {
		b = append(b, make([]byte, ExportNameReplyZeroes)...)
	}
	return b
}

// DecodeExportNameReply decodes the first 10 bytes of the answer to NBD_OPT_EXPORT_NAME.
func DecodeExportNameReply(b []byte) (size uint64, flags TransmissionFlags, err error) {
	if len(b) < ExportNameReplySize {
		return 0, 0, short("export name reply", len(b), ExportNameReplySize)
	}
	return be.Uint64(b), TransmissionFlags(be.Uint16(b[8:])), nil
}
