package memory

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// TestZstdCompresses writes compressible and incompressible data and checks that the
// pages take less memory than they hold when they can, and read back either way.
func TestZstdCompresses(t *testing.T) {
	p := newTestPlugin(t, Options{Size: 64 * pageSize, Allocator: allocatorZstd})
	h := openTestHandle(t, p)
	z := p.store.(*zstdStore)

	text := bytes.Repeat([]byte("a disk image compresses, mostly. "), 32*pageSize/33+1)[:32*pageSize]
	mustWrite(t, h, text, 0)
	pages, compressed := z.stats()
	if pages != 32 || compressed <= 0 || compressed > int64(len(text))/10 {
		t.Errorf("32 pages of text: %d pages in %d bytes", pages, compressed)
	}

	noise := make([]byte, 16*pageSize)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	mustWrite(t, h, noise, 40*pageSize)
	if got := mustRead(t, h, 0, len(text)); !bytes.Equal(got, text) {
		t.Error("the text reads back differently")
	}
	if got := mustRead(t, h, 40*pageSize, len(noise)); !bytes.Equal(got, noise) {
		t.Error("the noise reads back differently")
	}
	_, withNoise := z.stats()
	if withNoise-compressed < int64(len(noise)) {
		t.Errorf("random pages take %d bytes, less than their %d bytes of data", withNoise-compressed, len(noise))
	}

	// Overwriting, then zeroing, keeps the accounting right.
	mustWrite(t, h, noise[:pageSize], 0)
	if err := h.Zero(context.Background(), 0, 64*pageSize, 0); err != nil {
		t.Fatal(err)
	}
	if pages, compressed := z.stats(); pages != 0 || compressed != 0 {
		t.Errorf("after zeroing everything: %d pages in %d bytes", pages, compressed)
	}
}

func TestZstdLogsTheRatioAtCleanup(t *testing.T) {
	log := new(servertest.LogBuffer)
	p, err := New(Options{Size: 1 << 20, Allocator: allocatorZstd, Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	h := openTestHandle(t, p)
	mustWrite(t, h, bytes.Repeat([]byte{'x'}, 4*pageSize), 0)
	p.Cleanup(context.Background())
	p.Cleanup(context.Background()) // twice is harmless
	out := log.String()
	if !strings.Contains(out, "allocator=zstd at cleanup") || !strings.Contains(out, "pages=4") || !strings.Contains(out, "ratio=") {
		t.Errorf("cleanup did not log the ratio:\n%s", out)
	}
}
