package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/gonbd/gonbd/protocol"
)

// An export is one connection's opened export: the top layer's handle and what it
// answered, asked once per connection and then trusted for every request.
type export struct {
	h           LayerHandle
	name        string
	size        int64
	caps        Capabilities
	block       BlockSize
	description string
	readOnly    bool
}

// openExport opens name (already resolved from the default) on the top layer and asks the
// handle everything the handshake and the request checks need.
func (s *Server) openExport(ctx context.Context, name string) (_ *export, err error) {
	readOnly := s.opts.ReadOnly
	h, err := s.top.Open(ctx, OpenRequest{ExportName: name, ReadOnly: readOnly})
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", name, err)
	}
	e := &export{h: h, name: name, readOnly: readOnly}
	defer func() {
		if err != nil {
			e.close(ctx)
		}
	}()
	if err := h.Prepare(ctx, readOnly); err != nil {
		return nil, fmt.Errorf("prepare %q: %w", name, err)
	}
	if e.size, err = h.Size(ctx); err != nil {
		return nil, fmt.Errorf("size of %q: %w", name, err)
	}
	if e.size < 0 {
		return nil, fmt.Errorf("size of %q: negative size %d", name, e.size)
	}
	if e.caps, err = h.Capabilities(ctx); err != nil {
		return nil, fmt.Errorf("capabilities of %q: %w", name, err)
	}
	if readOnly {
		e.caps.Write = false
	}
	if !e.caps.Write {
		// Writing capabilities mean nothing on a read-only export.
		e.caps.Trim, e.caps.Zero, e.caps.FastZero, e.caps.FUA = false, false, false, FUANone
	}
	if !e.caps.Zero {
		e.caps.FastZero = false
	}
	if e.block, err = h.BlockSize(ctx); err != nil {
		return nil, fmt.Errorf("block size of %q: %w", name, err)
	}
	if e.block, err = s.effectiveBlockSize(e.block); err != nil {
		return nil, fmt.Errorf("block size of %q: %w", name, err)
	}
	if e.description, err = h.ExportDescription(ctx); err != nil {
		return nil, fmt.Errorf("description of %q: %w", name, err)
	}
	return e, nil
}

// effectiveBlockSize fills unset block size constraints with the defaults and checks the
// ones a layer set: filters answer too, so the plugin adapter's check is not enough.
func (s *Server) effectiveBlockSize(b BlockSize) (BlockSize, error) {
	if b == (BlockSize{}) {
		return BlockSize{Minimum: 1, Preferred: 4096, Maximum: s.opts.MaxPayload}, nil
	}
	if err := b.validate(); err != nil {
		return b, err
	}
	// The payload of reads and writes cannot exceed what the server buffers.
	b.Maximum = min(b.Maximum, s.opts.MaxPayload/b.Minimum*b.Minimum)
	return b, nil
}

// flags returns the transmission flags that describe e to a client that negotiated
// structured replies or not.
func (e *export) flags(structured bool) protocol.TransmissionFlags {
	f := protocol.FlagHasFlags
	c := &e.caps
	if !c.Write {
		f |= protocol.FlagReadOnly
	}
	if c.Flush {
		f |= protocol.FlagSendFlush
	}
	if c.FUA != FUANone {
		f |= protocol.FlagSendFUA
	}
	if c.Rotational {
		f |= protocol.FlagRotational
	}
	if c.Trim {
		f |= protocol.FlagSendTrim
	}
	if c.Zero {
		f |= protocol.FlagSendWriteZeroes
	}
	if c.FastZero {
		f |= protocol.FlagSendFastZero
	}
	if structured {
		f |= protocol.FlagSendDF
	}
	if c.MultiConn {
		f |= protocol.FlagCanMultiConn
	}
	if c.Cache != CacheNone {
		f |= protocol.FlagSendCache
	}
	return f
}

// close finalizes and closes the handle, logging what fails: the client is gone or going,
// so there is nobody else to tell.
func (e *export) close(ctx context.Context) error {
	return errors.Join(e.h.Finalize(ctx), e.h.Close(ctx))
}
