package evil_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/filters/evil"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestParseProbability(t *testing.T) {
	for s, want := range map[string]float64{
		"0": 0, "1": 1, "0.5": 0.5, "1e-6": 1e-6, "1E-8": 1e-8, ".25": 0.25,
		"1:1000000": 1e-6, "3.33:100000": 3.33e-5, "1/4": 0.25, "10%": 0.1, "0.1%": 0.001,
		"100%": 1, "0%": 0,
	} {
		got, err := evil.ParseProbability(s)
		if err != nil || math.Abs(got-want) > 1e-15 {
			t.Errorf("ParseProbability(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{
		"", " 0.1", "0.1 ", "1.5", "-0.1", "101%", "2:1", "1:0", "1:", ":2", "%", "half",
		"inf", "nan", "0x1p-3", "1_0:100", "1e400", "1:-2",
	} {
		if p, err := evil.ParseProbability(s); err == nil {
			t.Errorf("ParseProbability(%q) = %v, want an error", s, p)
		}
	}
}

// reader reads through an evil filter in front of a disk of size bytes holding fill.
type reader struct {
	f *evil.Filter
	h server.LayerHandle
	d *servertest.Disk
}

func newReader(t *testing.T, size int, fill byte, opts evil.Options) *reader {
	t.Helper()
	d := servertest.NewDisk(int64(size))
	if fill != 0 {
		d.SetBytes(bytes.Repeat([]byte{fill}, size), 0)
	}
	f, err := evil.New(d.Layer(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := f.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	return &reader{f, h, d}
}

func (r *reader) read(t *testing.T, off int64, n int) []byte {
	t.Helper()
	p := make([]byte, n)
	if err := r.h.ReadAt(context.Background(), p, off, 0); err != nil {
		t.Fatal(err)
	}
	return p
}

// diffBits counts the bits where a and b differ.
func diffBits(a, b []byte) int {
	n := 0
	for i := range a {
		n += bits.OnesCount8(a[i] ^ b[i])
	}
	return n
}

// checkRate fails the test unless got is within five standard deviations of the
// binomial distribution's mean for n trials of probability p.
func checkRate(t *testing.T, what string, got int, n int, p float64) {
	t.Helper()
	mean := float64(n) * p
	sd := math.Sqrt(mean * (1 - p))
	if math.Abs(float64(got)-mean) > 5*sd+1 {
		t.Errorf("%s: %d corrupted bits out of %d, expected about %.0f (± %.0f)", what, got, n, mean, 5*sd)
	}
}

func TestCosmicRays(t *testing.T) {
	const size, p = 1 << 20, 1e-3
	opts := evil.Options{Mode: evil.CosmicRays, Probability: p, StuckProbability: 1, Seed: 7}
	r := newReader(t, size, 0x5a, opts)
	clean := bytes.Repeat([]byte{0x5a}, size)
	first := r.read(t, 0, size)
	second := r.read(t, 0, size)
	checkRate(t, "first read", diffBits(first, clean), size*8, p)
	checkRate(t, "second read", diffBits(second, clean), size*8, p)
	if bytes.Equal(first, second) {
		t.Error("two reads saw the same cosmic rays")
	}
	if got, want := r.f.Corruptions(), uint64(diffBits(first, clean)+diffBits(second, clean)); got != want {
		t.Errorf("Corruptions() = %d, want %d", got, want)
	}
	// The same seed and the same reads give the same damage.
	again := newReader(t, size, 0x5a, opts)
	if !bytes.Equal(again.read(t, 0, size), first) || !bytes.Equal(again.read(t, 0, size), second) {
		t.Error("the same seed and reads gave other cosmic rays")
	}
	opts.Seed = 8
	if other := newReader(t, size, 0x5a, opts); bytes.Equal(other.read(t, 0, size), first) {
		t.Error("another seed gave the same cosmic rays")
	}
	if !bytes.Equal(r.d.Bytes(), clean) {
		t.Error("the disk itself changed")
	}
}

func TestStuckBits(t *testing.T) {
	const size, p = 1 << 20, 1e-3
	opts := evil.Options{Mode: evil.StuckBits, Probability: p, StuckProbability: 1, Seed: 99}
	zeros := newReader(t, size, 0x00, opts)
	ones := newReader(t, size, 0xff, opts)
	high := zeros.read(t, 0, size) // bits stuck high show on zeroes
	low := ones.read(t, 0, size)   // bits stuck low show on ones
	nHigh, nLow := diffBits(high, make([]byte, size)), diffBits(low, bytes.Repeat([]byte{0xff}, size))
	checkRate(t, "stuck bits", nHigh+nLow, size*8, p)
	checkRate(t, "stuck high", nHigh, size*8, p/2)
	for i := range high {
		if high[i]&^low[i] != 0 {
			t.Fatalf("byte %d: a bit is stuck both high and low", i)
		}
	}
	// Stuck bits stay where they are: at every read, in reads of any alignment.
	if !bytes.Equal(zeros.read(t, 0, size), high) {
		t.Error("a second read saw other stuck bits")
	}
	for _, rng := range []struct{ off, n int }{{1, 1}, {4095, 2}, {12345, 100000}, {size - 7, 7}, {4096 * 3, 4096}} {
		if got := zeros.read(t, int64(rng.off), rng.n); !bytes.Equal(got, high[rng.off:rng.off+rng.n]) {
			t.Errorf("a read of %d bytes at %d saw other stuck bits than the whole read", rng.n, rng.off)
		}
	}
	opts.Seed = 100
	if other := newReader(t, size, 0, opts); bytes.Equal(other.read(t, 0, size), high) {
		t.Error("another seed stuck the same bits")
	}
}

func TestStuckWires(t *testing.T) {
	const size, n, p = 1 << 20, 64 << 10, 1e-3
	opts := evil.Options{Mode: evil.StuckWires, Probability: p, StuckProbability: 1, Seed: 3}
	r := newReader(t, size, 0, opts)
	first := r.read(t, 0, n)
	if bytes.Equal(first, make([]byte, n)) {
		t.Fatal("no wire is stuck")
	}
	checkRate(t, "stuck wires (high)", diffBits(first, make([]byte, n)), n*8, p/2)
	// The same bits of every buffer, wherever it was read from.
	for _, off := range []int64{1, 4096, 500000, size - n} {
		if got := r.read(t, off, n); !bytes.Equal(got, first) {
			t.Errorf("a read at %d saw other stuck wires", off)
		}
	}
	if got := r.read(t, 999, 100); !bytes.Equal(got, first[:100]) {
		t.Error("a short read saw other stuck wires than the start of a long one")
	}
}

func TestStuckProbability(t *testing.T) {
	const size, p, q = 1 << 20, 1e-2, 0.5
	always := newReader(t, size, 0, evil.Options{Mode: evil.StuckBits, Probability: p, StuckProbability: 1, Seed: 5})
	sometimes := newReader(t, size, 0, evil.Options{Mode: evil.StuckBits, Probability: p, StuckProbability: q, Seed: 5})
	all := always.read(t, 0, size)
	n := diffBits(all, make([]byte, size))
	a, b := sometimes.read(t, 0, size), sometimes.read(t, 0, size)
	for _, got := range [][]byte{a, b} {
		for i := range got {
			if got[i]&^all[i] != 0 {
				t.Fatalf("byte %d: an intermittent stuck bit is not one of the stuck bits", i)
			}
		}
		checkRate(t, "intermittent stuck bits", diffBits(got, make([]byte, size)), n, q)
	}
	if bytes.Equal(a, b) {
		t.Error("two reads saw the same intermittent stuck bits")
	}
	never := newReader(t, size, 0, evil.Options{Mode: evil.StuckBits, Probability: p, StuckProbability: 0, Seed: 5})
	if got := never.read(t, 0, size); !bytes.Equal(got, make([]byte, size)) {
		t.Error("stuck bits showed with a stuck probability of 0")
	}
}

func TestExtremeProbabilities(t *testing.T) {
	for _, mode := range []evil.Mode{evil.CosmicRays, evil.StuckBits, evil.StuckWires} {
		r := newReader(t, 64<<10, 0x33, evil.Options{Mode: mode, Probability: 0, StuckProbability: 1})
		if got := r.read(t, 100, 10000); !bytes.Equal(got, bytes.Repeat([]byte{0x33}, 10000)) {
			t.Errorf("%v with probability 0 corrupted a read", mode)
		}
	}
	r := newReader(t, 4096, 0x33, evil.Options{Mode: evil.CosmicRays, Probability: 1, StuckProbability: 1})
	if got := r.read(t, 0, 4096); !bytes.Equal(got, bytes.Repeat([]byte{0xcc}, 4096)) {
		t.Error("cosmic rays with probability 1 did not flip every bit")
	}
}

func TestWritesPassUntouched(t *testing.T) {
	r := newReader(t, 64<<10, 0, evil.Options{Mode: evil.CosmicRays, Probability: 0.5, StuckProbability: 1})
	data := bytes.Repeat([]byte("evil"), 4096)
	if err := r.h.WriteAt(context.Background(), data, 0, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.d.Bytes()[:len(data)], data) {
		t.Error("the write reached the disk corrupted")
	}
}

func TestReadsDoNotAllocate(t *testing.T) {
	r := newReader(t, 1<<20, 0, evil.Options{Mode: evil.StuckBits, Probability: 1e-3, StuckProbability: 0.5, Seed: 1})
	p := make([]byte, 64<<10)
	ctx := context.Background()
	if n := testing.AllocsPerRun(50, func() { r.h.ReadAt(ctx, p, 4096, 0) }); n != 0 {
		t.Errorf("a read allocates %v times", n)
	}
}

func TestExtentsLoseZero(t *testing.T) {
	ctx := context.Background()
	r := newReader(t, 64<<10, 0, evil.Options{Probability: 1e-3, StuckProbability: 1})
	r.d.SetBytes([]byte{1}, 8192)
	e := server.NewExtentList(0, 64<<10)
	if err := r.h.Extents(ctx, 0, 64<<10, 0, e); err != nil {
		t.Fatal(err)
	}
	want := []server.Extent{
		{Offset: 0, Length: 8192, Type: server.ExtentHole},
		{Offset: 8192, Length: 4096, Type: server.ExtentData},
		{Offset: 12288, Length: 64<<10 - 12288, Type: server.ExtentHole},
	}
	if got := e.Extents(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("extents %v, want %v", got, want)
	}
	if n := testing.AllocsPerRun(50, func() {
		e.Reset(0, 64<<10)
		r.h.Extents(ctx, 0, 64<<10, 0, e)
	}); n != 0 && !raceEnabled {
		t.Errorf("block status allocates %v times", n)
	}
	// Without corruption, zeroes are zeroes.
	clean := newReader(t, 64<<10, 0, evil.Options{Probability: 0, StuckProbability: 1})
	e.Reset(0, 64<<10)
	if err := clean.h.Extents(ctx, 0, 64<<10, 0, e); err != nil {
		t.Fatal(err)
	}
	if got := e.Extents(); len(got) != 1 || got[0].Type != server.ExtentHole|server.ExtentZero {
		t.Errorf("extents with probability 0: %v", got)
	}
}

func TestNewChecks(t *testing.T) {
	d := servertest.NewDisk(4096)
	for _, o := range []evil.Options{
		{Mode: 7},
		{Probability: 2},
		{Probability: math.NaN()},
		{Probability: 0.5, StuckProbability: -1},
	} {
		if _, err := evil.New(d.Layer(), o); err == nil {
			t.Errorf("New accepted %+v", o)
		}
	}
	f, err := evil.New(d.Layer(), evil.Options{})
	if err != nil || f.Name() != "evil" {
		t.Errorf("New(defaults): %v, name %q", err, f.Name())
	}
}

func TestBadParameters(t *testing.T) {
	for _, tc := range []struct{ param, want string }{
		{"evil=gamma-rays", "evil=gamma-rays: unknown mode"},
		{"evil-probability=2", `evil-probability=2: probability "2" is not between 0 and 1`},
		{"evil-probability=often", `evil-probability=often: could not parse probability "often"`},
		{"evil-stuck-probability=1:0", `evil-stuck-probability=1:0: probability "1:0" divides by zero`},
		{"evil-seed=-1", "evil-seed=-1"},
	} {
		_, err := servertest.Stack(servertest.NewDisk(4096).Spec(), []server.FilterSpec{evil.Spec()}, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.param, err, tc.want)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh", "qemu-io")
	const size = 1 << 20
	params := []string{"evil=stuck-bits", "evil-probability=1:1000", "evil-seed=12345"}
	d := servertest.NewDisk(size)
	s := servertest.StartStack(t, d.Spec(), []server.FilterSpec{evil.Spec()}, params...)
	servertest.QemuIO(t, s.URI(), "write -P 0 0 1M")
	// What a client reads is what the filter computes in process for the same seed.
	want := newReader(t, size, 0, evil.Options{Mode: evil.StuckBits, Probability: 1e-3, StuckProbability: 1, Seed: 12345}).read(t, 0, size)
	sum := sha256.Sum256(want)
	servertest.Nbdsh(t, s.URI(),
		"import hashlib",
		"a = h.pread(1 << 20, 0)",
		"b = b''.join(h.pread(65536, off) for off in range(0, 1 << 20, 65536))",
		"assert a == b, 'the stuck bits moved'",
		"assert a != bytes(1 << 20), 'nothing is stuck'",
		fmt.Sprintf("assert hashlib.sha256(a).hexdigest() == %q", hex.EncodeToString(sum[:])),
	)
	if !bytes.Equal(d.Bytes(), make([]byte, size)) {
		t.Error("the plugin's data changed")
	}
	// Cosmic rays differ at every read, and reach holes too: nothing reads as zeroes.
	s2 := servertest.StartStack(t, servertest.NewDisk(size).Spec(), []server.FilterSpec{evil.Spec()}, "evil=cosmic-rays", "evil-probability=1%")
	servertest.Nbdsh(t, s2.URI(),
		"e = []",
		"h.block_status(1 << 20, 0, lambda c, o, ents, err: e.extend(ents))",
		"assert e == [1 << 20, 1], e",
		"a, b = h.pread(65536, 0), h.pread(65536, 0)",
		"assert a != b",
		"n = sum(bin(x).count('1') for x in a)",
		"assert 65536 * 8 * 0.01 * 0.8 < n < 65536 * 8 * 0.01 * 1.2, n",
	)
}
