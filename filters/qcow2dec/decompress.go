package qcow2dec

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// decoders keeps decompressors for reuse: making one costs more than a cluster's
// decompression.
type decoders struct {
	deflate sync.Pool // of io.ReadCloser that are flate.Resetter
	zstd    sync.Pool // of *zstd.Decoder
}

// decompress fills cluster with the decompressed src, whose compression is kind.
// Compressed clusters hold raw DEFLATE (zlib, without its header) or a zstd frame, and
// may be followed by unrelated bytes up to the end of their last sector: the stream is
// read no further than a cluster's worth of output.
func (d *decoders) decompress(kind byte, cluster, src []byte) error {
	var err error
	switch kind {
	case compressionZlib:
		err = d.inflate(cluster, src)
	case compressionZstd:
		err = d.unzstd(cluster, src)
	default:
		return fmt.Errorf("unknown compression type %d", kind)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("the compressed data ends before a whole cluster")
	}
	return err
}

func (d *decoders) inflate(cluster, src []byte) error {
	r := bytes.NewReader(src)
	fr, _ := d.deflate.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(r)
	} else if err := fr.(flate.Resetter).Reset(r, nil); err != nil {
		return err
	}
	defer d.deflate.Put(fr)
	if _, err := io.ReadFull(fr, cluster); err != nil {
		return fmt.Errorf("deflate: %w", err)
	}
	return nil
}

func (d *decoders) unzstd(cluster, src []byte) error {
	zr, _ := d.zstd.Get().(*zstd.Decoder)
	if zr == nil {
		var err error
		// One goroutine: the decoder then runs in the caller's, and a pooled decoder
		// that is dropped leaks nothing.
		if zr, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true)); err != nil {
			return err
		}
	}
	defer d.zstd.Put(zr)
	if err := zr.Reset(bytes.NewReader(src)); err != nil {
		return fmt.Errorf("zstd: %w", err)
	}
	if _, err := io.ReadFull(zr, cluster); err != nil {
		return fmt.Errorf("zstd: %w", err)
	}
	return nil
}
