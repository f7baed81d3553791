package logfilter

import (
	"strconv"
	"strings"

	"github.com/gonbd/gonbd/server"
)

// The functions below append the pieces of nbdkit's log lines to a buffer, so that a
// request's lines are built without formatting machinery.

// appendHex appends "key=0xN".
func appendHex(b []byte, key string, n uint64) []byte {
	b = append(b, key...)
	b = append(b, "=0x"...)
	return strconv.AppendUint(b, n, 16)
}

// appendInt appends "key=N".
func appendInt(b []byte, key string, n int64) []byte {
	b = append(b, key...)
	b = append(b, '=')
	return strconv.AppendInt(b, n, 10)
}

// appendBool appends "key=1" or "key=0".
func appendBool(b []byte, key string, v bool) []byte {
	n := int64(0)
	if v {
		n = 1
	}
	return appendInt(b, key, n)
}

// appendRange appends the offset and count every data request logs.
func appendRange(b []byte, off, count int64) []byte {
	b = appendHex(b, "offset", uint64(off))
	b = append(b, ' ')
	return appendHex(b, "count", uint64(count))
}

// appendResult appends "return=0", or "return=-1 error=ENAME" with the NBD error the
// client receives.
func appendResult(b []byte, err error) []byte {
	if err == nil {
		return append(b, "return=0"...)
	}
	b = append(b, "return=-1 error="...)
	return append(b, server.ErrnoOf(err).String()...)
}

// appendExtents appends `extents=(0xOFF 0xLEN "hole,zero" ...)`.
func appendExtents(b []byte, extents []server.Extent) []byte {
	b = append(b, "extents=("...)
	for i, e := range extents {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, "0x"...)
		b = strconv.AppendUint(b, uint64(e.Offset), 16)
		b = append(b, " 0x"...)
		b = strconv.AppendUint(b, uint64(e.Length), 16)
		b = append(b, ` "`...)
		if e.Type&server.ExtentHole != 0 {
			b = append(b, "hole"...)
			if e.Type&server.ExtentZero != 0 {
				b = append(b, ',')
			}
		}
		if e.Type&server.ExtentZero != 0 {
			b = append(b, "zero"...)
		}
		b = append(b, '"')
	}
	return append(b, ") "...)
}

// shellSafe are the bytes a string may hold and be written unquoted, as nbdkit's
// shell_quote decides.
const shellSafe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_=,:/"

// appendQuoted appends s quoted for a POSIX shell as nbdkit does: as is when it is not
// empty and holds only shellSafe bytes, else in double quotes with $ ` \ and "
// escaped by a backslash.
func appendQuoted(b []byte, s string) []byte {
	safe := s != ""
	for i := 0; safe && i < len(s); i++ {
		safe = strings.IndexByte(shellSafe, s[i]) >= 0
	}
	if safe {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '$', '`', '\\', '"':
			b = append(b, '\\', c)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// zeroMode returns nbdkit's can_zero answer for c: 2 (native) when zeroing is
// possible, since the layers below say no more, else 0.
func zeroMode(c server.Capabilities) int64 {
	if c.Zero {
		return 2
	}
	return 0
}
