package gzip

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"syscall"

	"github.com/gonbd/gonbd/server"
	"github.com/klauspost/compress/flate"
)

// spanReadSize is how much compressed data a span decoder reads from the next layer at
// a time: a span of 4 MiB compresses to about a megabyte for disk images.
const spanReadSize = 256 << 10

// spanDecoder decompresses spans. Decoders are pooled: the DEFLATE decoder's tables
// and window, and the read buffer, are reused from span to span.
type spanDecoder struct {
	src *source
	d   io.ReadCloser // a flate decompressor, which implements cpResetter
}

// cpResetter is the method of klauspost's decompressor that restarts it at a
// checkpoint.
type cpResetter interface {
	ResetCP(r io.Reader, cp flate.InflateCheckpoint) error
}

// decodeSpan decompresses span i of x, reading the compressed data through h (whose
// block size constraints are bs), and
// checks it against the CRC-32 the index recorded.
func (d *spanDecoder) decodeSpan(ctx context.Context, h server.LayerHandle, bs server.BlockSize, x *index, i int) ([]byte, error) {
	cp := &x.spans[i]
	out := make([]byte, x.spanEnd(i)-cp.out)
	d.src.reset(ctx, h, x.compressedSize, cp.in, bs)
	defer d.src.release()
	resume := flate.InflateCheckpoint{
		UncompressedOffset: cp.out,
		CompressedOffset:   cp.in,
		BitOffset:          cp.bit,
		Window:             cp.window,
	}
	if d.d == nil {
		d.d = flate.NewReaderOpts(d.src, flate.WithResumeFrom(resume))
	} else if err := d.d.(cpResetter).ResetCP(d.src, resume); err != nil {
		return nil, d.spanError(cp, err)
	}
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
