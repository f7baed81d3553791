package sh

import (
	"context"
	"strconv"
	"strings"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// handle is one connection's export: the string the open method printed, passed to
// every method of the connection.
//
// It implements every optional interface of a server handle, because whether the
// script can write, flush, trim... is only known by asking it (the can_* methods, in
// Capabilities): the server calls a method only when the matching capability was
// advertised.
type handle struct {
	p        *Plugin
	id       string
	readOnly bool // the connection was opened read-only: can_write is not asked

	// canZero is can_zero's answer, set by Capabilities before any request. When
	// false, zero requests are written as zeroes by the server, as nbdkit does.
	canZero bool
}

// Size calls get_size, which the script must have.
func (h *handle) Size(ctx context.Context) (int64, error) {
	out, found, err := h.p.text(ctx, "get_size", h.id)
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, h.p.errorf("get_size", "the get_size method is required")
	}
	size, err := parseSize(out)
	if err != nil {
		return 0, h.p.errorf("get_size", "cannot parse the size %q: %v", chomp(out), err)
	}
	return size, nil
}

// BlockSize calls block_size; without it there are no constraints.
func (h *handle) BlockSize(ctx context.Context) (server.BlockSize, error) {
	out, found, err := h.p.text(ctx, "block_size", h.id)
	if err != nil || !found {
		return server.BlockSize{}, err
	}
	bs, err := parseBlockSize(out)
	if err != nil {
		return server.BlockSize{}, h.p.errorf("block_size", "%v", err)
	}
	return bs, nil
}

// Capabilities asks the script what the connection can do. As in nbdkit, a missing
// can_* method means false, except that can_fua then follows can_flush (emulate or
// none) and can_fast_zero is the opposite of can_zero; a read-only connection is not
// asked about writing at all. Zero requests are always advertised on a writable
// connection: without can_zero the server writes zeroes with pwrite.
func (h *handle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	p := h.p
	var err error
	ask := func(method string, def bool) bool {
		if err != nil {
			return false
		}
		var answer bool
		answer, err = p.boolean(ctx, method, def, h.id)
		return answer
	}
	askMode := func(method string, def mode) mode {
		if err != nil {
			return def
		}
		out, found, callErr := p.text(ctx, method, h.id)
		if err = callErr; err != nil || !found {
			return def
		}
		m, parseErr := parseMode(out)
		if parseErr != nil {
			err = p.errorf(method, "%v", parseErr)
		}
		return m
	}

	*c = server.Capabilities{}
	c.Write = !h.readOnly && ask("can_write", false)
	c.Flush = ask("can_flush", false)
	if c.Write {
		c.Trim = ask("can_trim", false)
		h.canZero = ask("can_zero", false)
		c.Zero = true
		c.FastZero = ask("can_fast_zero", !h.canZero)
		fuaDefault := modeNone
		if c.Flush {
			fuaDefault = modeEmulate
		}
		switch askMode("can_fua", fuaDefault) {
		case modeEmulate:
			c.FUA = server.FUAEmulate
		case modeNative:
			c.FUA = server.FUANative
		}
	}
	c.Extents = ask("can_extents", false)
	c.MultiConn = ask("can_multi_conn", false)
	c.Rotational = ask("is_rotational", false)
	switch askMode("can_cache", modeNone) {
	case modeEmulate:
		c.Cache = server.CacheEmulate
	case modeNative:
		c.Cache = server.CacheNative
	}
	return err
}

// ExportDescription calls export_description; without it there is none.
func (h *handle) ExportDescription(ctx context.Context) (string, error) {
	out, _, err := h.p.text(ctx, "export_description", h.id)
	return chomp(out), err
}

// ReadAt calls pread, which must print exactly len(p) bytes.
func (h *handle) ReadAt(ctx context.Context, p []byte, off int64) error {
	w := &fixedWriter{p: p}
	st, err := h.p.call(ctx, invocation{method: "pread", args: h.rangeArgs(int64(len(p)), off), stdout: w})
	switch {
	case err != nil:
		return err
	case st == statusMissing:
		return h.p.errorf("pread", "the pread method is required")
	case st == statusFalse:
		return h.p.unexpectedFalse("pread")
	case w.total() != int64(len(p)):
		return h.p.errorf("pread", "expected %d bytes of data at offset %d, but the script printed %d", len(p), off, w.total())
	}
	return nil
}

// WriteAt calls pwrite with the data on its standard input.
func (h *handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	st, err := h.p.call(ctx, invocation{
		method: "pwrite",
		args:   append(h.rangeArgs(int64(len(p)), off), flagsArg(flags)),
		stdin:  p,
	})
	switch {
	case err != nil:
		return err
	case st == statusMissing:
		return h.p.errorf("pwrite", "can_write answered true, but there is no pwrite method")
	case st == statusFalse:
		return h.p.unexpectedFalse("pwrite")
	}
	return nil
}

// Flush calls flush; a script without one has nothing to flush.
func (h *handle) Flush(ctx context.Context, flags server.Flags) error {
	return h.p.simpleMethod(ctx, "flush", h.id)
}

// Trim calls trim; a script without one ignores trims, which only ever advise.
func (h *handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.p.simpleMethod(ctx, "trim", append(h.rangeArgs(length, off), flagsArg(flags))...)
}

// Zero calls zero when can_zero said so. ENOTSUP from the script, a missing zero
// method or can_zero false make the server write zeroes instead, unless the client
// asked for a fast zero, which then fails with ENOTSUP.
func (h *handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	if !h.canZero {
		return server.Errorf(syscall.ENOTSUP, "%s: can_zero is false", h.p.describe(h.p.scriptFor("zero"), "zero"))
	}
	st, err := h.p.call(ctx, invocation{method: "zero", args: append(h.rangeArgs(length, off), flagsArg(flags))})
	switch {
	case err != nil:
		return err
	case st == statusMissing:
		return server.Errorf(syscall.ENOTSUP, "%s: no zero method", h.p.describe(h.p.scriptFor("zero"), "zero"))
	case st == statusFalse:
		return h.p.unexpectedFalse("zero")
	}
	return nil
}

// Extents calls extents and adds the extents it prints (see addExtents) to e.
func (h *handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	out, found, err := h.p.text(ctx, "extents", append(h.rangeArgs(length, off), flagsArg(flags))...)
	if err != nil {
		return err
	}
	if !found {
		return h.p.errorf("extents", "can_extents answered true, but there is no extents method")
	}
	if err := addExtents(out, e); err != nil {
		return h.p.errorf("extents", "%v", err)
	}
	return nil
}

// Cache calls cache; a script without one has nothing to prefetch.
func (h *handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.p.simpleMethod(ctx, "cache", h.rangeArgs(length, off)...)
}

// Close calls close. Its errors are logged: the connection is over either way.
func (h *handle) Close() error {
	if err := h.p.simpleMethod(context.Background(), "close", h.id); err != nil {
		h.p.log.Error("close failed", "err", err)
	}
	return nil
}

// rangeArgs returns the arguments of a request: the handle, the count, the offset.
func (h *handle) rangeArgs(count, off int64) []string {
	return []string{h.id, strconv.FormatInt(count, 10), strconv.FormatInt(off, 10)}
}

// flagsArg spells a request's flags as nbdkit does: a comma-separated list of fua,
// may_trim, req_one and fast, in that order, or "" for none.
func flagsArg(flags server.Flags) string {
	var words []string
	for _, f := range []struct {
		flag server.Flags
		word string
	}{
		{server.FlagFUA, "fua"},
		{server.FlagMayTrim, "may_trim"},
		{server.FlagReqOne, "req_one"},
		{server.FlagFastZero, "fast"},
	} {
		if flags&f.flag != 0 {
			words = append(words, f.word)
		}
	}
	return strings.Join(words, ",")
}
