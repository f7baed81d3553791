package bzip2

import (
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
)

// A block is one bzip2 block's place in the compressed file and in the decompressed
// data.
type block struct {
	bit, endBit          int64 // compressed bits [bit, endBit), from the block's magic
	level                byte  // the stream's block size, '1' to '9'
	dataOffset, dataSize int64
	crc                  uint32 // the block's CRC, as stored after its magic
}

// byteRange returns the bytes of the file that hold the block's bits.
func (b block) byteRange() (off, length int64) {
	off = b.bit / 8
	return off, (b.endBit+7)/8 - off
}

// singleBlockStream makes a bzip2 stream of one block out of the nbits bits of src
// from bit srcBit, which start with the block's magic: a stream header for a block
// size of level, the block's bits moved to the byte boundary after it, and an
// end-of-stream marker whose CRC, for a stream of one block, is the block's. It also
// returns the block's CRC, stored after its magic. compress/bzip2 checks both CRCs.
func singleBlockStream(src []byte, srcBit, nbits int64, level byte) (stream []byte, crc uint32) {
	stream = make([]byte, 0, 4+(nbits+magicBits+crcBits)/8+2)
	stream = append(stream, 'B', 'Z', 'h', level)
	stream = appendBits(stream, src, srcBit, nbits)
	crc = uint32(readBits(src, srcBit+magicBits, crcBits))
	w := bitWriter{b: stream, nbits: 32 + nbits}
	w.write(eosMagic, magicBits)
	w.write(uint64(crc), crcBits)
	return w.b, crc
}

// errCorrupt marks errors that say the compressed data is wrong, rather than that
// it could not be read.
var errCorrupt = errors.New("corrupt bzip2 data")

// decodeSize decodes the block in the nbits bits of src from srcBit and returns the
// size of its data and its CRC. Its data is discarded.
func decodeSize(src []byte, srcBit, nbits int64, level byte) (int64, uint32, error) {
	if nbits < magicBits+crcBits+8 {
		return 0, 0, fmt.Errorf("%w: a block of %d bits is too short", errCorrupt, nbits)
	}
	stream, crc := singleBlockStream(src, srcBit, nbits, level)
	n, err := io.Copy(io.Discard, bzip2.NewReader(bytes.NewReader(stream)))
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	return n, crc, nil
}

// decodeBlock decodes block b, whose bytes (from the byte holding its first bit) are
// src, into data, which must have room for exactly its data.
func decodeBlock(b block, src []byte, data []byte) error {
	stream, _ := singleBlockStream(src, b.bit%8, b.endBit-b.bit, b.level)
	r := bzip2.NewReader(bytes.NewReader(stream))
	if _, err := io.ReadFull(r, data); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = errors.New("the block decompresses to less data than when it was indexed")
		}
		return fmt.Errorf("%w: %v", errCorrupt, err)
	}
	if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = errors.New("the block decompresses to more data than when it was indexed")
		}
		return fmt.Errorf("%w: %v", errCorrupt, err)
	}
	return nil
}
