//go:build cgo && unix

package cabi

/*
#include <stdlib.h>
#include "cabi.h"
*/
import "C"

import (
	"context"
	"errors"
	"math"
	"runtime/cgo"
	"syscall"
	"unsafe"

	"github.com/gonbd/gonbd/server"
)

// A conn is one client connection's plugin handle: what the plugin's open returned,
// and what the nbdkit_* functions tell the plugin about the connection.
type conn struct {
	lib  *Library
	c    *C.cabi_conn
	self cgo.Handle
	ctx  context.Context
	info server.ConnInfo

	// zeroNative is whether the plugin zeroes by itself (else WriteAt does).
	zeroNative bool
	// fastZero is whether zero requests with FlagFastZero may be tried.
	fastZero bool
}

func newConn(ctx context.Context, l *Library, info server.ConnInfo) (*conn, error) {
	h := &conn{lib: l, ctx: ctx, info: info}
	h.self = cgo.NewHandle(h)
	name := C.CString(info.ExportName)
	defer C.free(unsafe.Pointer(name))
	h.c = C.cabi_conn_new(l.c, name, cBool(info.TLS), C.uintptr_t(h.self))
	if h.c == nil {
		h.self.Delete()
		return nil, server.Errorf(syscall.ENOMEM, "%s: out of memory", l.name)
	}
	return h, nil
}

func (h *conn) free() {
	C.cabi_conn_free(h.c)
	h.self.Delete()
}

// Open calls the plugin's open callback for a new connection.
func (l *Library) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	info, _ := server.ConnInfoFrom(ctx)
	info.ExportName = req.ExportName
	h, err := newConn(ctx, l, info)
	if err != nil {
		return nil, err
	}
	if err := l.status("open", C.cabi_open(h.c, cBool(req.ReadOnly))); err != nil {
		h.free()
		return nil, err
	}
	return h, nil
}

// Close calls the plugin's close callback.
func (h *conn) Close() error {
	C.cabi_close(h.c)
	h.free()
	return nil
}

func (h *conn) Size(ctx context.Context) (int64, error) {
	var size C.int64_t
	if err := h.lib.status("get_size", C.cabi_get_size(h.c, &size)); err != nil {
		return 0, err
	}
	if size < 0 {
		return 0, server.Errorf(syscall.EIO, "%s: get_size returned %d", h.lib.name, int64(size))
	}
	return int64(size), nil
}

// can asks one of the plugin's can_* questions.
func (h *conn) can(which C.int, op string) (int, error) {
	var answer C.int
	err := h.lib.status(op, C.cabi_can(h.c, which, &answer))
	return int(answer), err
}

// Capabilities asks the plugin's can_* callbacks, with nbdkit's defaults for those it
// leaves out.
func (h *conn) Capabilities(ctx context.Context, c *server.Capabilities) error {
	var answers [C.CABI_CAN_FAST_ZERO + 1]int
	names := [...]string{"can_write", "can_flush", "is_rotational", "can_trim", "can_zero",
		"can_fua", "can_multi_conn", "can_extents", "can_cache", "can_fast_zero"}
	for i := range answers {
		a, err := h.can(C.int(i), names[i])
		if err != nil {
			return err
		}
		answers[i] = a
	}
	c.Write = c.Write && answers[C.CABI_CAN_WRITE] != 0
	c.Flush = answers[C.CABI_CAN_FLUSH] != 0
	c.Rotational = answers[C.CABI_IS_ROTATIONAL] != 0
	c.Trim = c.Write && answers[C.CABI_CAN_TRIM] != 0
	c.Zero = c.Write
	h.zeroNative = answers[C.CABI_CAN_ZERO] != 0
	switch fz := answers[C.CABI_CAN_FAST_ZERO]; {
	case fz == -2: // no can_fast_zero: fast when zeroing is emulated (it fails fast)
		h.fastZero = !h.zeroNative
	default:
		h.fastZero = fz != 0
	}
	c.FastZero = c.Zero && h.fastZero
	c.FUA = server.FUANone
	if c.Write {
		switch answers[C.CABI_CAN_FUA] {
		case 1:
			c.FUA = server.FUAEmulate
		case 2:
			c.FUA = server.FUANative
		}
		if c.FUA == server.FUAEmulate && !c.Flush {
			c.FUA = server.FUANone
		}
	}
	c.MultiConn = answers[C.CABI_CAN_MULTI_CONN] != 0
	c.Extents = answers[C.CABI_CAN_EXTENTS] != 0
	switch answers[C.CABI_CAN_CACHE] {
	case 0:
		c.Cache = server.CacheNone
	case 1:
		c.Cache = server.CacheEmulate
	default:
		c.Cache = server.CacheNative
	}
	return nil
}

// cFlags translates the server's flags into nbdkit's.
func cFlags(f server.Flags) C.uint32_t {
	var r C.uint32_t
	if f&server.FlagMayTrim != 0 {
		r |= C.CABI_FLAG_MAY_TRIM
	}
	if f&server.FlagFUA != 0 {
		r |= C.CABI_FLAG_FUA
	}
	if f&server.FlagReqOne != 0 {
		r |= C.CABI_FLAG_REQ_ONE
	}
	if f&server.FlagFastZero != 0 {
		r |= C.CABI_FLAG_FAST_ZERO
	}
	return r
}

// maxChunk is the largest count one callback takes (nbdkit's are 32-bit); longer
// ranges, possible with extended headers, are split.
const maxChunk = math.MaxUint32 &^ 0xfff

// ReadAt calls pread with the server's buffer: the plugin writes straight into it.
func (h *conn) ReadAt(ctx context.Context, p []byte, off int64) error {
	for len(p) > 0 {
		n := min(len(p), maxChunk)
		if err := h.lib.status("pread", C.cabi_pread(h.c, unsafe.Pointer(&p[0]), C.uint32_t(n), C.uint64_t(off), 0)); err != nil {
			return err
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

func (h *conn) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	for len(p) > 0 {
		n := min(len(p), maxChunk)
		if err := h.lib.status("pwrite", C.cabi_pwrite(h.c, unsafe.Pointer(&p[0]), C.uint32_t(n), C.uint64_t(off), cFlags(flags))); err != nil {
			return err
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

func (h *conn) Flush(ctx context.Context, flags server.Flags) error {
	return h.lib.status("flush", C.cabi_flush(h.c, cFlags(flags)))
}

func (h *conn) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	for length > 0 {
		n := min(length, maxChunk)
		if err := h.lib.status("trim", C.cabi_trim(h.c, C.uint32_t(n), C.uint64_t(off), cFlags(flags))); err != nil {
			return err
		}
		off, length = off+n, length-n
	}
	return nil
}

func (h *conn) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	for length > 0 {
		n := min(length, maxChunk)
		if err := h.lib.status("cache", C.cabi_cache(h.c, C.uint32_t(n), C.uint64_t(off), cFlags(flags))); err != nil {
			return err
		}
		off, length = off+n, length-n
	}
	return nil
}

// Zero calls the plugin's zero callback, or writes zeroes when it has none or
// declines (ENOTSUP/EOPNOTSUPP), as nbdkit does; a fast zero fails instead.
func (h *conn) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	fast := flags&server.FlagFastZero != 0
	if h.zeroNative {
		start, remaining := off, length
		var err error
		for remaining > 0 {
			n := min(remaining, maxChunk)
			err = h.lib.status("zero", C.cabi_zero(h.c, C.uint32_t(n), C.uint64_t(start), cFlags(flags)))
			if err != nil {
				break
			}
			start, remaining = start+n, remaining-n
		}
		if err == nil {
			return nil
		}
		// A plugin may decline a zero it cannot do well; nbdkit then writes.
		var errno syscall.Errno
		if fast || !errors.As(err, &errno) || (errno != syscall.ENOTSUP && errno != syscall.EOPNOTSUPP) {
			return err
		}
		off, length = start, remaining
	} else if fast {
		return server.Errorf(syscall.ENOTSUP, "%s: the plugin cannot zero fast", h.lib.name)
	}
	zeroes := h.lib.zeroBuffer()
	writeFlags := flags & server.FlagFUA
	for length > 0 {
		n := min(length, int64(len(zeroes)))
		if err := h.WriteAt(ctx, zeroes[:n], off, writeFlags); err != nil {
			return err
		}
		off, length = off+n, length-n
	}
	return nil
}

// Extents calls the plugin's extents callback and adds what it reported to e.
func (h *conn) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	length = min(length, maxChunk)
	list := C.nbdkit_extents_new(C.uint64_t(off), C.uint64_t(off+length))
	if list == nil {
		return server.Errorf(syscall.EINVAL, "%s: extents: bad range %d+%d", h.lib.name, off, length)
	}
	defer C.nbdkit_extents_free(list)
	if err := h.lib.status("extents", C.cabi_extents(h.c, C.uint32_t(length), C.uint64_t(off), cFlags(flags), list)); err != nil {
		return err
	}
	if list.len == 0 {
		return server.Errorf(syscall.EINVAL, "%s: extents: the plugin must return at least one extent", h.lib.name)
	}
	for _, x := range unsafe.Slice(list.v, list.len) {
		t := server.ExtentType(x._type) & (server.ExtentHole | server.ExtentZero)
		if err := e.Add(int64(x.offset), int64(x.length), t); err != nil {
			return err
		}
	}
	return nil
}

func (h *conn) BlockSize(ctx context.Context) (server.BlockSize, error) {
	var minimum, preferred, maximum C.uint32_t
	if err := h.lib.status("block_size", C.cabi_block_size(h.c, &minimum, &preferred, &maximum)); err != nil {
		return server.BlockSize{}, err
	}
	return server.BlockSize{Minimum: uint32(minimum), Preferred: uint32(preferred), Maximum: uint32(maximum)}, nil
}

func (h *conn) ExportDescription(ctx context.Context) (string, error) {
	var desc *C.char
	if err := h.lib.status("export_description", C.cabi_export_description(h.c, &desc)); err != nil {
		return "", err
	}
	defer C.free(unsafe.Pointer(desc))
	return goStringOrEmpty(desc), nil
}
