package nbd

import (
	"math"
	"math/bits"
	"syscall"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

// Limits the server layer puts on block sizes (see server.BlockSize).
const (
	largestMinimum    = 64 << 10
	smallestPreferred = 512
	largestPreferred  = 32 << 20
)

// blockSizeFrom turns the server's block size constraints into ones the server layer
// accepts. The minimum and the maximum bind the client, so they pass unchanged (the
// maximum rounded down to a multiple of the minimum, as it must be); a server whose
// constraints cannot be passed on is refused. The preferred size is advice, brought
// into the range the layer accepts.
func blockSizeFrom(b protocol.BlockSizeInfo) (server.BlockSize, error) {
	minimum, preferred, maximum := b.Minimum, b.Preferred, b.Maximum
	if minimum == 0 || minimum&(minimum-1) != 0 || minimum > largestMinimum {
		return server.BlockSize{}, server.Errorf(syscall.EIO,
			"the server's minimum block size, %d, is not a power of 2 from 1 to 64 KiB", minimum)
	}
	if maximum != math.MaxUint32 {
		maximum = maximum / minimum * minimum
	}
	preferred = floorPowerOf2(min(max(preferred, minimum, smallestPreferred), largestPreferred, maximum))
	if preferred < minimum || preferred < smallestPreferred {
		return server.BlockSize{}, server.Errorf(syscall.EIO,
			"the server's maximum block size, %d, is below the smallest the server layer supports (%d, and at least the minimum %d)",
			b.Maximum, smallestPreferred, minimum)
	}
	return server.BlockSize{Minimum: minimum, Preferred: preferred, Maximum: maximum}, nil
}

// floorPowerOf2 returns the largest power of 2 not above n, or 0 for 0.
func floorPowerOf2(n uint32) uint32 {
	if n == 0 {
		return 0
	}
	return 1 << (bits.Len32(n) - 1)
}
