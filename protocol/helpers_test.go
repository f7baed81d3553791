package protocol_test

import (
	"encoding/hex"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/protocol"
)

// hexBytes decodes the concatenation of hex strings; spaces are ignored so that golden
// messages can be written one field per argument.
func hexBytes(fields ...string) []byte {
	s := strings.ReplaceAll(strings.Join(fields, ""), " ", "")
	b, err := hex.DecodeString(s)
	if err != nil {
		panic("bad golden hex " + s + ": " + err.Error())
	}
	return b
}

// errKind is what the package documents an error can be.
type errKind int

const (
	kindNone     errKind = iota
	kindShort            // wraps protocol.ErrShortMessage
	kindFormat           // *protocol.FormatError
	kindTooLarge         // *protocol.TooLargeError
	kindOther            // not documented: always a test failure
)

func (k errKind) String() string {
	return [...]string{"nil", "ErrShortMessage", "*FormatError", "*TooLargeError", "undocumented error"}[k]
}

func classify(err error) errKind {
	var fe *protocol.FormatError
	var tl *protocol.TooLargeError
	switch {
	case err == nil:
		return kindNone
	case errors.Is(err, protocol.ErrShortMessage):
		return kindShort
	case errors.As(err, &fe):
		if fe.Message == "" || fe.Problem == "" {
			return kindOther
		}
		return kindFormat
	case errors.As(err, &tl):
		if tl.What == "" || tl.Length <= tl.Limit {
			return kindOther
		}
		return kindTooLarge
	}
	return kindOther
}

// wantKind fails t unless err is of kind want.
func wantKind(t testing.TB, err error, want errKind) {
	t.Helper()
	if got := classify(err); got != want {
		t.Fatalf("error %v: got %v, want %v", err, got, want)
	}
}

// documentedErr fails t if err is not one of the documented kinds.
func documentedErr(t testing.TB, err error) errKind {
	t.Helper()
	k := classify(err)
	if k == kindOther {
		t.Fatalf("undocumented error %T: %v", err, err)
	}
	if err != nil && !strings.HasPrefix(err.Error(), "nbd: ") {
		t.Fatalf("error text %q lacks the nbd: prefix", err)
	}
	return k
}

// bytesPerRun returns the average number of heap bytes f allocates per call.
func bytesPerRun(runs int, f func()) uint64 {
	f() // warm up
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// cuts returns the prefixes of b shorter than n.
func cuts(b []byte, n int) [][]byte {
	var out [][]byte
	for i := 0; i < n && i < len(b); i++ {
		out = append(out, b[:i])
	}
	return out
}
