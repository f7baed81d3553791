package sh

import (
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/server"
)

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		out  string
		want int64
	}{
		{"1048576\n", 1 << 20},
		{"64M\n", 64 << 20},
		{"1G", 1 << 30},
		{"0\n", 0},
	} {
		got, err := parseSize(tt.out)
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.out, got, err, tt.want)
		}
	}
	for _, out := range []string{"", "\n", "banana\n", "1M\n\n", "1M extra", "-1\n"} {
		if got, err := parseSize(out); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", out, got)
		}
	}
}

func TestParseThreadModel(t *testing.T) {
	for out, want := range map[string]server.ThreadModel{
		"parallel\n":               server.Parallel,
		"Serialize-Requests":       server.SerializeRequests,
		"serialize_all_requests\n": server.SerializeAllRequests,
		"serialize_connections":    server.SerializeConnections,
	} {
		if got, ok := parseThreadModel(out); !ok || got != want {
			t.Errorf("parseThreadModel(%q) = %v, %v; want %v", out, got, ok, want)
		}
	}
	if got, ok := parseThreadModel("warp speed\n"); ok || got != server.SerializeAllRequests {
		t.Errorf("an unknown model gave %v, %v; want serialize_all_requests, false", got, ok)
	}
}

func TestParseMode(t *testing.T) {
	for out, want := range map[string]mode{"none\n": modeNone, "Emulate": modeEmulate, "NATIVE\n": modeNative} {
		if got, err := parseMode(out); err != nil || got != want {
			t.Errorf("parseMode(%q) = %v, %v; want %v", out, got, err, want)
		}
	}
	for _, out := range []string{"", "yes\n", "native\n\n", " native"} {
		if _, err := parseMode(out); err == nil {
			t.Errorf("parseMode(%q) succeeded, want an error", out)
		}
	}
}

func TestParseBlockSize(t *testing.T) {
	got, err := parseBlockSize("512 4k\t1M\n")
	if want := (server.BlockSize{Minimum: 512, Preferred: 4096, Maximum: 1 << 20}); err != nil || got != want {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
	if got, err := parseBlockSize("1 4096 4294967295"); err != nil || got.Maximum != 1<<32-1 {
		t.Errorf("the largest maximum: %+v, %v", got, err)
	}
	for _, out := range []string{"", "512 4096", "512 4096 1M 2M", "512 4096 4G", "a b c"} {
		if got, err := parseBlockSize(out); err == nil {
			t.Errorf("parseBlockSize(%q) = %+v, want an error", out, got)
		}
	}
}

func TestAddExtents(t *testing.T) {
	e := server.NewExtentList(1000, 1<<20)
	out := "0 4k hole,zero\n4096\t4096\n8k 8k 3\n16k 16k zero\n32k 1M data\n"
	if err := addExtents(out, e); err != nil {
		t.Fatal(err)
	}
	want := []server.Extent{
		{Offset: 1000, Length: 4096 - 1000, Type: server.ExtentHole | server.ExtentZero},
		{Offset: 4096, Length: 4096, Type: server.ExtentData},
		{Offset: 8192, Length: 8192, Type: server.ExtentHole | server.ExtentZero},
		{Offset: 16384, Length: 16384, Type: server.ExtentZero},
		{Offset: 32768, Length: 1<<20 - 32768, Type: server.ExtentData},
	}
	if got := e.Extents(); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	for _, out := range []string{
		"0\n",                 // no length
		"0 4k hole extra\n",   // too many fields
		"0 4k 4\n",            // unknown bits
		"0 4k sparse\n",       // unknown word
		"0 4k\n\n",            // an empty line
		"x 4k\n",              // bad offset
		"0 -1\n",              // negative length
		"0 4k\n8k 4k\n",       // a gap
		"4k 4k\n0 4k\n",       // out of order
		"0 4k hole,,zero\n",   // an empty word
		"0 4k 18446744073709", // a number too large for a type
	} {
		if err := addExtents(out, server.NewExtentList(0, 1<<20)); err == nil {
			t.Errorf("addExtents(%q) succeeded, want an error", out)
		}
	}
}

func TestParseExports(t *testing.T) {
	for _, tt := range []struct {
		out  string
		want []server.Export
	}{
		{"", nil},
		{"a\nb\n", []server.Export{{Name: "a"}, {Name: "b"}}},
		{"NAMES\na\nb", []server.Export{{Name: "a"}, {Name: "b"}}},
		{"names\n", nil},
		{"INTERLEAVED\na\nthe a\nb\nthe b\n", []server.Export{{Name: "a", Description: "the a"}, {Name: "b", Description: "the b"}}},
		{"NAMES+DESCRIPTIONS\na\nb\nthe a\nthe b\n", []server.Export{{Name: "a", Description: "the a"}, {Name: "b", Description: "the b"}}},
		{"\n", []server.Export{{Name: ""}}},
	} {
		got, err := parseExports(tt.out)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseExports(%q) = %+v, %v; want %+v", tt.out, got, err, tt.want)
		}
	}
	for _, out := range []string{
		"INTERLEAVED\na\n",
		"NAMES+DESCRIPTIONS\na\nb\nthe a\n",
		strings.Repeat("x", maxExportString+1) + "\n",
	} {
		if got, err := parseExports(out); err == nil {
			t.Errorf("parseExports(%.30q) = %+v, want an error", out, got)
		}
	}
}

func TestParseErrorOutput(t *testing.T) {
	for _, tt := range []struct {
		stderr  string
		errno   syscall.Errno
		message string
	}{
		{"ENOSPC no room\n", syscall.ENOSPC, "no room"},
		{"enospc\tno room", syscall.ENOSPC, "no room"},
		{"EPERM\n", syscall.EPERM, ""},
		{"EOPNOTSUPP  not here\n\n", syscall.EOPNOTSUPP, "not here"},
		{"EROFS read-only\n", syscall.EROFS, "read-only"},
		{"EINVALID input\n", syscall.EIO, "EINVALID input"},
		{"disk on fire\n", syscall.EIO, "disk on fire"},
		{"", syscall.EIO, ""},
		{"ENOENT gone", syscall.EIO, "ENOENT gone"}, // not one of nbdkit's names
	} {
		errno, message := parseErrorOutput([]byte(tt.stderr))
		if errno != tt.errno || message != tt.message {
			t.Errorf("parseErrorOutput(%q) = %v, %q; want %v, %q", tt.stderr, errno, message, tt.errno, tt.message)
		}
	}
}

func TestFlagsArg(t *testing.T) {
	for flags, want := range map[server.Flags]string{
		0:                                   "",
		server.FlagFUA:                      "fua",
		server.FlagReqOne:                   "req_one",
		server.FlagFUA | server.FlagMayTrim: "fua,may_trim",
		server.FlagFUA | server.FlagMayTrim | server.FlagFastZero: "fua,may_trim,fast",
		server.FlagFastZero: "fast",
	} {
		if got := flagsArg(flags); got != want {
			t.Errorf("flagsArg(%b) = %q, want %q", flags, got, want)
		}
	}
}

func TestCappedBuffer(t *testing.T) {
	b := &cappedBuffer{limit: 5}
	for _, s := range []string{"abc", "def", "ghi"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if b.String() != "abcde" || !b.truncated {
		t.Errorf("kept %q, truncated %v", b.String(), b.truncated)
	}
}

func TestFixedWriter(t *testing.T) {
	p := make([]byte, 4)
	w := &fixedWriter{p: p}
	w.Write([]byte("ab"))
	w.Write([]byte("cdef"))
	if string(p) != "abcd" || w.total() != 6 {
		t.Errorf("filled %q, total %d", p, w.total())
	}
}
