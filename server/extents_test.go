package server

import (
	"errors"
	"slices"
	"syscall"
	"testing"
)

type extentAdd struct {
	off, length int64
	typ         ExtentType
}

func TestExtentList(t *testing.T) {
	const hole = ExtentHole | ExtentZero
	tests := []struct {
		name       string
		start, end int64
		adds       []extentAdd
		want       []Extent
		wantErrAt  int // index of the add that fails, or -1
	}{
		{
			name: "exact", start: 0, end: 100,
			adds:      []extentAdd{{0, 100, ExtentData}},
			want:      []Extent{{0, 100, ExtentData}},
			wantErrAt: -1,
		},
		{
			name: "clipped at both ends", start: 10, end: 20,
			adds:      []extentAdd{{0, 100, hole}},
			want:      []Extent{{10, 10, hole}},
			wantErrAt: -1,
		},
		{
			name: "merged", start: 0, end: 100,
			adds:      []extentAdd{{0, 10, ExtentData}, {10, 10, ExtentData}, {20, 30, hole}, {50, 50, hole}},
			want:      []Extent{{0, 20, ExtentData}, {20, 80, hole}},
			wantErrAt: -1,
		},
		{
			name: "before start ignored", start: 50, end: 100,
			adds:      []extentAdd{{0, 10, hole}, {10, 40, ExtentZero}, {50, 10, ExtentData}},
			want:      []Extent{{50, 10, ExtentData}},
			wantErrAt: -1,
		},
		{
			name: "first straddles start", start: 50, end: 100,
			adds:      []extentAdd{{0, 60, hole}, {60, 100, ExtentData}},
			want:      []Extent{{50, 10, hole}, {60, 40, ExtentData}},
			wantErrAt: -1,
		},
		{
			name: "past end dropped", start: 0, end: 10,
			adds:      []extentAdd{{0, 5, ExtentData}, {5, 5, hole}, {10, 5, ExtentData}, {15, 1 << 40, hole}},
			want:      []Extent{{0, 5, ExtentData}, {5, 5, hole}},
			wantErrAt: -1,
		},
		{
			name: "zero length ignored", start: 0, end: 10,
			adds:      []extentAdd{{0, 0, hole}, {0, 4, ExtentData}, {4, 0, hole}, {4, 6, ExtentData}},
			want:      []Extent{{0, 10, ExtentData}},
			wantErrAt: -1,
		},
		{
			name: "first after start", start: 10, end: 20,
			adds:      []extentAdd{{11, 5, ExtentData}},
			want:      []Extent{},
			wantErrAt: 0,
		},
		{
			name: "gap", start: 0, end: 20,
			adds:      []extentAdd{{0, 5, ExtentData}, {6, 5, hole}},
			want:      []Extent{{0, 5, ExtentData}},
			wantErrAt: 1,
		},
		{
			name: "overlap", start: 0, end: 20,
			adds:      []extentAdd{{0, 5, ExtentData}, {4, 5, hole}},
			want:      []Extent{{0, 5, ExtentData}},
			wantErrAt: 1,
		},
		{
			name: "gap among ignored extents", start: 50, end: 60,
			adds:      []extentAdd{{0, 10, hole}, {20, 40, ExtentData}},
			want:      []Extent{},
			wantErrAt: 1,
		},
		{
			name: "negative length", start: 0, end: 20,
			adds:      []extentAdd{{0, -1, ExtentData}},
			want:      []Extent{},
			wantErrAt: 0,
		},
		{
			name: "offset overflow", start: 0, end: 20,
			adds:      []extentAdd{{1, maxInt64, ExtentData}},
			want:      []Extent{},
			wantErrAt: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewExtentList(tt.start, tt.end)
			for i, a := range tt.adds {
				err := e.Add(a.off, a.length, a.typ)
				if i == tt.wantErrAt {
					if !errors.Is(err, syscall.EINVAL) {
						t.Fatalf("Add #%d (%v) = %v, want EINVAL", i, a, err)
					}
					break
				}
				if err != nil {
					t.Fatalf("Add #%d (%v) = %v", i, a, err)
				}
			}
			if got := e.Extents(); !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("Extents() = %v, want %v", got, tt.want)
			}
			if e.Start() != tt.start || e.End() != tt.end {
				t.Errorf("range = [%d, %d), want [%d, %d)", e.Start(), e.End(), tt.start, tt.end)
			}
		})
	}
}

func TestExtentListReset(t *testing.T) {
	e := NewExtentList(0, 10)
	if err := e.Add(0, 10, ExtentHole); err != nil {
		t.Fatal(err)
	}
	e.Reset(100, 200)
	if len(e.Extents()) != 0 {
		t.Fatalf("after Reset, Extents() = %v", e.Extents())
	}
	// The contiguity check starts over too: the first extent may start anywhere before 100.
	if err := e.Add(50, 100, ExtentData); err != nil {
		t.Fatalf("first Add after Reset: %v", err)
	}
	if want := []Extent{{100, 50, ExtentData}}; !slices.Equal(e.Extents(), want) {
		t.Errorf("Extents() = %v, want %v", e.Extents(), want)
	}
}

func BenchmarkExtentListAdd(b *testing.B) {
	b.ReportAllocs()
	e := NewExtentList(0, 1<<30)
	for b.Loop() {
		e.Reset(4096, 1<<30)
		for off := int64(0); off < 64<<12; off += 4096 {
			e.Add(off, 4096, ExtentType(off>>12)&ExtentHole)
		}
	}
}
