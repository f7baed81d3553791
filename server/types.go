package server

import (
	"errors"
	"math"
	"net"
	"time"
)

// Flags qualify a request. Which ones a method may see is written on the method.
type Flags uint32

const (
	// FlagFUA asks for the data to be on stable storage before the reply (force unit
	// access).
	FlagFUA Flags = 1 << iota
	// FlagMayTrim lets a zero request trim the range, as long as it reads back as zeroes.
	FlagMayTrim
	// FlagFastZero asks a zero request to fail with ENOTSUP rather than be slower than a
	// write would be.
	FlagFastZero
	// FlagReqOne asks an extents request for one extent only.
	FlagReqOne
)

// ThreadModel says how much concurrency a plugin or filter accepts, from the most
// restrictive to the least. The server uses the most restrictive of a stack's layers.
type ThreadModel int

const (
	// SerializeConnections serves one connection at a time.
	SerializeConnections ThreadModel = iota
	// SerializeAllRequests serves one request at a time, across all connections.
	SerializeAllRequests
	// SerializeRequests serves one request at a time per connection.
	SerializeRequests
	// Parallel serves requests concurrently.
	Parallel
)

// FUAMode says how a handle honours FUA.
type FUAMode int

const (
	// FUANone: the client may not ask for FUA.
	FUANone FUAMode = iota
	// FUAEmulate: the server flushes after the request.
	FUAEmulate
	// FUANative: the handle receives FlagFUA.
	FUANative
)

// CacheMode says how a handle honours cache requests.
type CacheMode int

const (
	// CacheNone: the client may not send NBD_CMD_CACHE.
	CacheNone CacheMode = iota
	// CacheEmulate: the server reads the range and discards the data.
	CacheEmulate
	// CacheNative: the handle's Cache method is called.
	CacheNative
)

// Capabilities are what one connection's handle can do (nbdkit's can_* answers). For a
// plugin handle the server derives them from the interfaces it implements:
//
//   - Write: implements [Writer] and the connection is not read-only.
//   - Flush: implements [Flusher].
//   - Trim: implements [Trimmer] and Write.
//   - Zero: Write (emulated by writing zeroes when there is no [Zeroer]).
//   - FastZero: Zero, and no [Zeroer] (the emulation fails fast).
//   - Extents: implements [Extenter].
//   - FUA: FUANative when the handle implements [Flusher] and declares native FUA via
//     [CapabilityOverrider], else FUAEmulate when it implements [Flusher], else FUANone.
//   - MultiConn: false.
//   - Cache: CacheNative when it implements [Cacher], else CacheNone.
//   - Rotational: false.
type Capabilities struct {
	Write      bool
	Flush      bool
	Trim       bool
	Zero       bool
	FastZero   bool
	Extents    bool
	FUA        FUAMode
	MultiConn  bool
	Cache      CacheMode
	Rotational bool
}

// BlockSize holds a handle's block size constraints, in bytes. The zero value means no
// constraints (the server advertises 1, 4096 and the maximum payload).
type BlockSize struct {
	// Minimum is the smallest unit of I/O (a power of two from 1 to 65536). Requests
	// not aligned to it are refused before the handle sees them.
	Minimum uint32
	// Preferred is the size that avoids read-modify-write: a power of two, at least
	// Minimum and 512.
	Preferred uint32
	// Maximum is the largest request the handle accepts, a multiple of Minimum, or
	// 0xffffffff for no limit.
	Maximum uint32
}

// ConnInfo describes a client connection. The server puts it in the context of every call
// made for that connection; [ConnInfoFrom] gets it back.
type ConnInfo struct {
	// ID numbers connections from 1 in the order they were accepted.
	ID uint64
	// Local and Remote are the connection's addresses.
	Local, Remote net.Addr
	// TLS is true once the connection is encrypted.
	TLS bool
	// ExportName is the export the client asked for; empty before the handshake chose.
	ExportName string
	// Accepted is when the server accepted the connection.
	Accepted time.Time
	// Peer is the client process's credentials on a Unix socket where the system
	// says (Linux), else nil.
	Peer *PeerCred
	// ReadOnly is true when the server lets no client write (Options.ReadOnly, -r),
	// which nbdkit passes to preconnect.
	ReadOnly bool
}

// validate checks constraints a layer set as nbdkit does. The zero value, no
// constraints, is valid.
func (b BlockSize) validate() error {
	if b == (BlockSize{}) {
		return nil
	}
	isPowerOf2 := func(n uint32) bool { return n != 0 && n&(n-1) == 0 }
	switch {
	case !isPowerOf2(b.Minimum) || b.Minimum > 64<<10:
		return errors.New("invalid block size: the minimum must be a power of 2 from 1 to 64 KiB")
	case !isPowerOf2(b.Preferred) || b.Preferred < 512 || b.Preferred > 32<<20:
		return errors.New("invalid block size: the preferred size must be a power of 2 from 512 to 32 MiB")
	case b.Preferred < b.Minimum || b.Maximum < b.Preferred:
		return errors.New("invalid block size: it must hold that minimum ≤ preferred ≤ maximum")
	case b.Maximum != math.MaxUint32 && b.Maximum%b.Minimum != 0:
		return errors.New("invalid block size: the maximum must be a multiple of the minimum, or 0xffffffff")
	}
	return nil
}
