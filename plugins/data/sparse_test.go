package data

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gonbd/gonbd/server"
)

// TestSparseStoreAgainstModel applies random writes, zeroes and reads to a sparse store
// and to a plain byte slice, and checks that they always agree, and that extents tell
// the truth about the slice.
func TestSparseStoreAgainstModel(t *testing.T) {
	const size = 5*pageSize + 123
	rng := rand.New(rand.NewPCG(1, 2))
	s := newSparseStore()
	model := make([]byte, size)
	for step := range 1500 {
		off := rng.Int64N(size)
		n := rng.Int64N(min(size-off, 3*pageSize)) + 1
		switch rng.IntN(4) {
		case 0, 1:
			b := make([]byte, n)
			if rng.IntN(4) > 0 { // some writes are all zeroes
				for i := range b {
					b[i] = byte(rng.IntN(3)) // mostly zeroes and ones
				}
			}
			s.writeAt(b, off)
			copy(model[off:], b)
		case 2:
			s.zero(off, n)
			clear(model[off : off+n])
		case 3:
			got := bytes.Repeat([]byte{0xee}, int(n))
			s.readAt(got, off)
			if !bytes.Equal(got, model[off:off+n]) {
				t.Fatalf("step %d: read of %d bytes at %d differs from the model", step, n, off)
			}
		}
		if step%150 == 0 {
			checkExtents(t, s, model, 0, size, true)
			checkExtents(t, s, model, off, n, false)
		}
	}
	got := make([]byte, size)
	s.readAt(got, 0)
	if !bytes.Equal(got, model) {
		t.Fatal("the store differs from the model at the end")
	}
}

// checkExtents checks that the extents of [off, off+n) cover it in order and that
// every extent said to read as zeroes does. With whole set, the range covers whole
// pages, and so data extents must not read as zeroes either.
func checkExtents(t *testing.T, s *sparseStore, model []byte, off, n int64, whole bool) {
	t.Helper()
	e := server.NewExtentList(off, off+n)
	if err := s.extents(off, n, e); err != nil {
		t.Fatal(err)
	}
	next := off
	for _, x := range e.Extents() {
		if x.Offset != next {
			t.Fatalf("extent at %d, want one at %d", x.Offset, next)
		}
		region := model[x.Offset : x.Offset+x.Length]
		if x.Type&server.ExtentZero != 0 && !isZero(region) {
			t.Fatalf("extent %+v says zero, but the data is not", x)
		}
		if whole && x.Type == server.ExtentData && isZero(region) {
			// Allowed by the protocol, but this store checks pages: a data
			// extent must hold some non-zero byte.
			t.Fatalf("extent %+v says data, but it reads as zeroes", x)
		}
		next += x.Length
	}
	if next != off+n {
		t.Fatalf("extents end at %d, want %d", next, off+n)
	}
}

// TestSparseStoreZeroWritesMakeNoPages checks that zeroes written where no page is make
// none, and that zero drops the pages it covers whole.
func TestSparseStoreZeroWritesMakeNoPages(t *testing.T) {
	s := newSparseStore()
	s.writeAt(make([]byte, 4*pageSize), 0)
	if n := s.pages(); n != 0 {
		t.Fatalf("%d pages after writing zeroes, want 0", n)
	}
	s.writeAt(bytes.Repeat([]byte{1}, 3*pageSize), pageSize/2)
	if n := s.pages(); n != 4 {
		t.Fatalf("%d pages after writing 3 pages across 4, want 4", n)
	}
	s.zero(pageSize/2, 3*pageSize)
	if n := s.pages(); n != 2 {
		t.Fatalf("%d pages after zeroing the 2 middle pages whole, want 2 (the partial ends)", n)
	}
	e := server.NewExtentList(0, 4*pageSize)
	if err := s.extents(0, 4*pageSize, e); err != nil {
		t.Fatal(err)
	}
	want := []server.Extent{
		{Offset: 0, Length: pageSize, Type: server.ExtentZero},
		{Offset: pageSize, Length: 2 * pageSize, Type: server.ExtentHole | server.ExtentZero},
		{Offset: 3 * pageSize, Length: pageSize, Type: server.ExtentZero},
	}
	if got := e.Extents(); !equalExtents(got, want) {
		t.Fatalf("extents %+v, want %+v", got, want)
	}
}

func equalExtents(a, b []server.Extent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSparseStoreFarOffsets writes at the ends of the largest disk and checks that the
// pages in between cost nothing and are reported as one hole.
func TestSparseStoreFarOffsets(t *testing.T) {
	const last = maxOffset - 1 // the last byte of the largest disk
	s := newSparseStore()
	s.writeAt([]byte{1}, 0)
	s.writeAt([]byte{2}, last)
	s.writeAt([]byte{3}, 1<<40)
	if n := s.pages(); n != 3 {
		t.Fatalf("%d pages, want 3", n)
	}
	got := make([]byte, 1)
	for off, want := range map[int64]byte{0: 1, last: 2, 1 << 40: 3, 1<<40 + 1: 0, last - 1: 0} {
		s.readAt(got, off)
		if got[0] != want {
			t.Errorf("byte at %d is %d, want %d", off, got[0], want)
		}
	}
	e := server.NewExtentList(0, maxOffset)
	if err := s.extents(0, maxOffset, e); err != nil {
		t.Fatal(err)
	}
	hole := server.ExtentHole | server.ExtentZero
	lastPage := int64(last) &^ (pageSize - 1)
	want := []server.Extent{
		{Offset: 0, Length: pageSize, Type: server.ExtentData},
		{Offset: pageSize, Length: 1<<40 - pageSize, Type: hole},
		{Offset: 1 << 40, Length: pageSize, Type: server.ExtentData},
		{Offset: 1<<40 + pageSize, Length: lastPage - (1<<40 + pageSize), Type: hole},
		{Offset: lastPage, Length: maxOffset - lastPage, Type: server.ExtentData},
	}
	if got := e.Extents(); !equalExtents(got, want) {
		t.Fatalf("extents\n got %+v\nwant %+v", got, want)
	}
	s.zero(0, maxOffset)
	if n := s.pages(); n != 0 {
		t.Fatalf("%d pages after zeroing everything, want 0", n)
	}
}

// TestSparseStoreConcurrent runs readers, writers and zeroes at once, for the race
// detector, and checks that each writer's own region holds what it wrote last.
func TestSparseStoreConcurrent(t *testing.T) {
	s := newSparseStore()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := int64(w) * 3 * pageSize
			b := make([]byte, 2*pageSize)
			for i := range 100 {
				for j := range b {
					b[j] = byte(i + w)
				}
				s.writeAt(b, base+int64(i%7))
				got := make([]byte, len(b))
				s.readAt(got, base+int64(i%7))
				if !bytes.Equal(got, b) {
					t.Errorf("writer %d: read back differs at round %d", w, i)
					return
				}
				if i%10 == 0 {
					s.zero(base, 2*pageSize+7)
				}
				e := server.NewExtentList(0, 12*pageSize)
				if err := s.extents(0, 12*pageSize, e); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
