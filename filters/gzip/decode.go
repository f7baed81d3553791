package gzip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"syscall"

	"github.com/gonbd/gonbd/server"
	"github.com/klauspost/compress/flate"
)

// readAhead is how many bytes past the end of a span's compressed data the
// decompressor may read to fill its bit buffer; at the end of a member, its trailer
// is there.
const readAhead = 16

// spanReadSize is how much compressed data a span decoder reads from the next layer at
// a time: a span of 4 MiB compresses to about a megabyte for disk images.
const spanReadSize = 256 << 10

// spanDecoder decompresses spans. Decoders are pooled: the DEFLATE decoder's tables
// and window, and the buffers of compressed data, are reused from span to span.
type spanDecoder struct {
	src        *source
	compressed []byte        // the span's compressed data
	in         bytes.Reader  // reads compressed, for the decoder's fast path
	d          io.ReadCloser // a flate decompressor, which implements cpResetter
}

// cpResetter is the method of klauspost's decompressor that restarts it at a
// checkpoint.
type cpResetter interface {
	ResetCP(r io.Reader, cp flate.InflateCheckpoint) error
}

// decodeSpan decompresses span i of x, reading the compressed data through h (whose
// block size constraints are bs), and checks it against the CRC-32 the index recorded.
//
// It reads the span's compressed data whole first, from its checkpoint to the next
// one's (a span's data cannot reach further) and a few bytes more (the decompressor
// reads ahead of the bits it needs), and decodes it from memory: the decompressor has
// a fast path for a *bytes.Reader, about twice as fast as reading byte by byte
// through an io.ByteReader.
func (d *spanDecoder) decodeSpan(ctx context.Context, h server.LayerHandle, bs server.BlockSize, x *index, i int) ([]byte, error) {
	cp := &x.spans[i]
	end := x.compressedSize
	if i+1 < len(x.spans) {
		end = min(x.spans[i+1].in+readAhead, end)
	}
	d.compressed = slices.Grow(d.compressed[:0], int(end-cp.in))[:end-cp.in]
	d.src.reset(ctx, h, x.compressedSize, cp.in, bs)
	_, err := io.ReadFull(d.src, d.compressed)
	d.src.release()
	if err != nil {
		return nil, d.spanError(cp, err)
	}
	d.in.Reset(d.compressed)
	resume := flate.InflateCheckpoint{
		UncompressedOffset: cp.out,
		CompressedOffset:   cp.in,
		BitOffset:          cp.bit,
		Window:             cp.window,
	}
	if d.d == nil {
		d.d = flate.NewReaderOpts(&d.in, flate.WithResumeFrom(resume))
	} else if err := d.d.(cpResetter).ResetCP(&d.in, resume); err != nil {
		return nil, d.spanError(cp, err)
	}
	out := make([]byte, x.spanEnd(i)-cp.out)
	if _, err := io.ReadFull(d.d, out); err != nil {
		return nil, d.spanError(cp, err)
	}
	if sum := crc32.ChecksumIEEE(out); sum != cp.crc {
		return nil, server.Errorf(syscall.EIO,
			"the data at offset %d decompresses differently than when the file was indexed "+
				"(CRC-32 %08x, was %08x): the compressed data changed or cannot be read back reliably",
			cp.out, sum, cp.crc)
	}
	return out, nil
}

// spanError wraps an error of decompressing the span starting at cp, keeping the next
// layer's errno when it has one.
func (d *spanDecoder) spanError(cp *checkpoint, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return server.Errorf(syscall.EIO,
			"the compressed data of offset %d ends early: the file changed since it was indexed", cp.out)
	}
	var corrupt flate.CorruptInputError
	if errors.As(err, &corrupt) {
		return server.Errorf(syscall.EIO,
			"corrupt compressed data near offset %d (decompressing offset %d): the file changed since it was indexed",
			int64(corrupt), cp.out)
	}
	return fmt.Errorf("decompressing offset %d: %w", cp.out, err)
}
