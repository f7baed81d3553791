package xz

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestLZMA2Settings decodes files made with every kind of LZMA2 setting xz offers:
// presets from fastest to extreme, the literal context and position bits at their
// limits, and dictionaries smaller than the data, so that the decoder meets every
// path of the format that xz can produce.
func TestLZMA2Settings(t *testing.T) {
	img := testImage(600<<10, 40)
	for _, options := range [][]string{
		{"-0"}, {"-6"}, {"-9e"},
		{"--lzma2=preset=1,lc=4,lp=0,pb=0"},
		{"--lzma2=preset=1,lc=0,lp=4,pb=4"},
		{"--lzma2=preset=6,lc=1,lp=3,pb=2"},
		{"--lzma2=preset=6,dict=4KiB"},
		{"--lzma2=preset=6,mode=fast,mf=hc3,nice=8"},
		{"--lzma2=preset=6,mode=normal,mf=bt2,nice=273,depth=1000"},
		{"--block-size=100000", "--lzma2=preset=3,dict=64KiB"},
	} {
		t.Run(options[0], func(t *testing.T) {
			_, h := mustOpen(t, diskOf(xzCommand(t, img, options...)).Layer(), Options{})
			checkReads(t, h, img, 41)
		})
	}
}

// TestLZMA2RunsAndRepeats decodes data made of runs and repeated patterns, whose
// matches overlap their source and use the repeated distances.
func TestLZMA2RunsAndRepeats(t *testing.T) {
	var img []byte
	rng := rand.New(rand.NewPCG(42, 0))
	for len(img) < 1<<20 {
		switch rng.IntN(4) {
		case 0:
			img = append(img, bytes.Repeat([]byte{byte(rng.Uint32())}, rng.IntN(5000))...)
		case 1:
			pattern := make([]byte, 1+rng.IntN(7))
			for i := range pattern {
				pattern[i] = byte(rng.Uint32())
			}
			img = append(img, bytes.Repeat(pattern, rng.IntN(2000))...)
		case 2:
			if len(img) > 0 {
				from := rng.IntN(len(img))
				img = append(img, img[from:from+rng.IntN(len(img)-from)%3000]...)
			}
		case 3:
			for range rng.IntN(300) {
				img = append(img, byte(rng.Uint32()))
			}
		}
	}
	_, h := mustOpen(t, diskOf(xzCommand(t, img, "-6", "--block-size=300000")).Layer(), Options{})
	checkReads(t, h, img, 43)
}

// TestCorruptLZMA2NeverPanics flips bytes of LZMA2 data at random: the decoder must
// return an error or some data, never panic or write outside its buffer.
func TestCorruptLZMA2NeverPanics(t *testing.T) {
	img := testImage(128<<10, 44)
	xz := xzCommand(t, img, "-6", "--check=none")
	_, h := mustOpen(t, diskOf(xz).Layer(), Options{})
	b := h.(*handle).x.blocks[0]
	raw := xz[b.in : b.in+padTo4(b.unpadded)]
	hdr, err := parseBlockHeader(raw)
	if err != nil {
		t.Fatal(err)
	}
	data := raw[hdr.size : b.unpadded-int64(checkSize(b.check))]
	out := make([]byte, b.size+64)
	rng := rand.New(rand.NewPCG(45, 0))
	detected := 0
	const rounds = 2000
	for range rounds {
		bad := bytes.Clone(data)
		for range 1 + rng.IntN(3) {
			bad[rng.IntN(len(bad))] ^= byte(1 + rng.IntN(255))
		}
		// A guard after the block's end catches writes past it.
		clear(out)
		if err := decodeLZMA2(bad, out[:b.size]); err != nil {
			detected++
			if !errors.Is(err, errCorrupt) && !errors.Is(err, errLZMA2Overflow) && err.Error() == "" {
				t.Fatalf("an error without a message")
			}
		}
		for _, c := range out[b.size:] {
			if c != 0 {
				t.Fatal("the decoder wrote past the end of its buffer")
			}
		}
	}
	// Most corruptions break the range coder's exact end; the check catches the
	// others.
	if detected < rounds/2 {
		t.Errorf("only %d of %d corruptions were detected by the LZMA2 decoder alone", detected, rounds)
	}
	// Truncations too.
	for n := range len(data) {
		if n%97 != 0 && n > 20 {
			continue
		}
		if err := decodeLZMA2(data[:n], out[:b.size]); err == nil {
			t.Fatalf("LZMA2 data cut to %d of %d bytes decoded", n, len(data))
		}
	}
}

// FuzzDecodeLZMA2 checks that no input makes the decoder panic or overrun.
func FuzzDecodeLZMA2(f *testing.F) {
	f.Add([]byte{0x00}, 0)
	f.Add([]byte{0x01, 0x00, 0x02, 'a', 'b', 'c', 0x00}, 3)
	f.Add([]byte{0xe0, 0x00, 0x00, 0x00, 0x05, 0x5d, 0x00, 0x30, 0xef, 0xfb, 0xbf, 0x00}, 1)
	f.Fuzz(func(t *testing.T, data []byte, size int) {
		if size < 0 || size > 1<<16 {
			return
		}
		out := make([]byte, size+16)
		_ = decodeLZMA2(data, out[:size])
		for _, c := range out[size:] {
			if c != 0 {
				t.Fatal("the decoder wrote past the end of its buffer")
			}
		}
	})
}
