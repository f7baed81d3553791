package xz

import (
	"fmt"
	"sync"
)

// lzma2Decoder decodes the LZMA2 data of a block. Decoders are pooled: the model is
// 30 KiB of probabilities.
type lzma2Decoder struct {
	lzma lzmaState
	rc   rangeDecoder
}

var lzma2Decoders = sync.Pool{New: func() any { return new(lzma2Decoder) }}

// decodeLZMA2 decodes the LZMA2 data in, which must end with its end marker at its
// last byte, into out, which it must fill exactly.
//
// LZMA2 is a sequence of chunks, each starting with a control byte:
//
//	0x00                end of data
//	0x01, 0x02          uncompressed chunk, with (0x01) or without a dictionary
//	                    reset; then its size minus one (2 bytes, big-endian)
//	0x80 to 0xff        LZMA chunk; bits 5-6 say what to reset (0 nothing, 1 the
//	                    state, 2 the state and the properties, 3 those and the
//	                    dictionary), bits 0-4 are bits 16-20 of its uncompressed size
//	                    minus one; then bits 0-15 of that (2 bytes), its compressed
//	                    size minus one (2 bytes), and with a properties reset the
//	                    properties byte
//
// The first chunk resets the dictionary, and the first LZMA chunk after a dictionary
// reset sets the properties.
func decodeLZMA2(in, out []byte) error {
	d := lzma2Decoders.Get().(*lzma2Decoder)
	defer lzma2Decoders.Put(d)
	d.rc.in = nil
	pos, dictStart := 0, 0
	needDictReset, needProps := true, true
	for i := 0; ; {
		if i >= len(in) {
			return fmt.Errorf("%w: the data ends without an end marker", errCorrupt)
		}
		control := in[i]
		switch {
		case control == 0x00:
			if i != len(in)-1 {
				return fmt.Errorf("the LZMA2 data ends %d bytes before the index says", len(in)-1-i)
			}
			if pos != len(out) {
				return fmt.Errorf("the LZMA2 data decompresses to %d bytes, not the block's %d", pos, len(out))
			}
			return nil

		case control == 0x01 || control == 0x02:
			if i+3 > len(in) {
				return fmt.Errorf("%w: a truncated chunk header", errCorrupt)
			}
			size := int(in[i+1])<<8 | int(in[i+2]) + 1
			i += 3
			if control == 0x01 {
				dictStart, needDictReset = pos, false
				// The properties and state must be reset before the next LZMA chunk.
				needProps = true
			} else if needDictReset {
				return fmt.Errorf("%w: the first chunk does not reset the dictionary", errCorrupt)
			}
			if size > len(in)-i {
				return fmt.Errorf("%w: an uncompressed chunk runs past the data", errCorrupt)
			}
			if size > len(out)-pos {
				return errLZMA2Overflow
			}
			copy(out[pos:], in[i:i+size])
			pos += size
			i += size

		case control >= 0x80:
			if i+5 > len(in) {
				return fmt.Errorf("%w: a truncated chunk header", errCorrupt)
			}
			reset := control >> 5 & 3
			usize := int(control&0x1f)<<16 | int(in[i+1])<<8 | int(in[i+2]) + 1
			csize := int(in[i+3])<<8 | int(in[i+4]) + 1
			i += 5
			if reset == 3 {
				dictStart, needDictReset = pos, false
			} else if needDictReset {
				return fmt.Errorf("%w: the first chunk does not reset the dictionary", errCorrupt)
			}
			if reset >= 2 {
				if i >= len(in) {
					return fmt.Errorf("%w: a truncated chunk header", errCorrupt)
				}
				if err := d.lzma.setProps(in[i]); err != nil {
					return err
				}
				i++
				needProps = false
			} else if needProps {
				return fmt.Errorf("%w: an LZMA chunk without properties", errCorrupt)
			}
			if reset >= 1 {
				d.lzma.reset()
			}
			if csize > len(in)-i {
				return fmt.Errorf("%w: a compressed chunk runs past the data", errCorrupt)
			}
			if usize > len(out)-pos {
				return errLZMA2Overflow
			}
			if err := d.rc.init(in[i : i+csize]); err != nil {
				return err
			}
			end, err := d.lzma.decodeChunk(&d.rc, out, dictStart, pos, pos+usize)
			if err != nil {
				return err
			}
			// The range coder must have read the chunk exactly, and end on a zero
			// code, as the encoder flushes it.
			d.rc.finish()
			if d.rc.overread || d.rc.pos != csize || d.rc.code != 0 {
				return fmt.Errorf("%w: a chunk's compressed size does not match its data", errCorrupt)
			}
			pos = end
			i += csize

		default:
			return fmt.Errorf("%w: bad chunk control byte %#02x", errCorrupt, control)
		}
	}
}
