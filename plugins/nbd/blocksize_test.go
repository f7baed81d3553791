package nbd

import (
	"math"
	"testing"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

func TestBlockSizeFrom(t *testing.T) {
	for _, tc := range []struct {
		in   protocol.BlockSizeInfo
		want server.BlockSize
	}{
		// The protocol's defaults, which the client reports for a silent server.
		{protocol.BlockSizeInfo{Minimum: 1, Preferred: 4096, Maximum: 32 << 20}, server.BlockSize{Minimum: 1, Preferred: 4096, Maximum: 32 << 20}},
		{protocol.BlockSizeInfo{Minimum: 4096, Preferred: 65536, Maximum: 1 << 20}, server.BlockSize{Minimum: 4096, Preferred: 65536, Maximum: 1 << 20}},
		{protocol.BlockSizeInfo{Minimum: 512, Preferred: 4096, Maximum: math.MaxUint32}, server.BlockSize{Minimum: 512, Preferred: 4096, Maximum: math.MaxUint32}},
		// Advice brought into range: a preferred size below 512, above 32 MiB, above
		// the maximum, or not a power of 2.
		{protocol.BlockSizeInfo{Minimum: 1, Preferred: 1, Maximum: 1 << 20}, server.BlockSize{Minimum: 1, Preferred: 512, Maximum: 1 << 20}},
		{protocol.BlockSizeInfo{Minimum: 1, Preferred: 1 << 30, Maximum: math.MaxUint32}, server.BlockSize{Minimum: 1, Preferred: 32 << 20, Maximum: math.MaxUint32}},
		{protocol.BlockSizeInfo{Minimum: 512, Preferred: 1 << 20, Maximum: 65536}, server.BlockSize{Minimum: 512, Preferred: 65536, Maximum: 65536}},
		{protocol.BlockSizeInfo{Minimum: 1, Preferred: 6000, Maximum: 100000}, server.BlockSize{Minimum: 1, Preferred: 4096, Maximum: 100000}},
		// A maximum that is no multiple of the minimum is rounded down to one.
		{protocol.BlockSizeInfo{Minimum: 4096, Preferred: 4096, Maximum: 1000000}, server.BlockSize{Minimum: 4096, Preferred: 4096, Maximum: 999424}},
	} {
		got, err := blockSizeFrom(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("blockSizeFrom(%+v) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []protocol.BlockSizeInfo{
		{Minimum: 0, Preferred: 4096, Maximum: 1 << 20},
		{Minimum: 3, Preferred: 4096, Maximum: 1 << 20},
		{Minimum: 128 << 10, Preferred: 128 << 10, Maximum: 1 << 20},
		{Minimum: 1, Preferred: 256, Maximum: 256}, // no room for a preferred size of 512
		{Minimum: 4096, Preferred: 4096, Maximum: 1000},
	} {
		if got, err := blockSizeFrom(in); err == nil {
			t.Errorf("blockSizeFrom(%+v) = %+v, want an error", in, got)
		}
	}
}
