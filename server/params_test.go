package server

import (
	"context"
	"log/slog"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// parseSizeTests were checked against nbdkit 1.32 (nbdkit memory size=X); a value of -1
// means nbdkit refuses the input. TestParseSizeMatchesNbdkit checks them again where
// nbdkit is installed.
var parseSizeTests = []struct {
	in   string
	want int64
}{
	{"0", 0},
	{"1", 1},
	{"1k", 1024},
	{"1K", 1024},
	{"1b", 1},
	{"1B", 1},
	{"2s", 1024},
	{"2S", 1024},
	{"10M", 10 << 20},
	{"1m", 1 << 20},
	{"1g", 1 << 30},
	{"1t", 1 << 40},
	{"1p", 1 << 50},
	{"1e", 1 << 60},
	{"7E", 7 << 60},
	{"8191P", 8191 << 50},
	{"9223372036854775807", 1<<63 - 1},
	{"010", 10},   // leading zeroes are decimal
	{"00012", 12}, //
	{" 10", 10},   // leading spaces skipped, as strtoimax does
	{"\t5", 5},    //
	{"+10", 10},   //
	{"-0", 0},     //
	{"0x10", -1},  // no hexadecimal: x is an unknown suffix
	{"-1", -1},    // negative
	{"8E", -1},    // overflow after scaling
	{"8192P", -1}, //
	{"9223372036854775808", -1},
	{"99999999999999999999999", -1},
	{"", -1},
	{"k", -1},
	{"1kb", -1},
	{"1.5k", -1},
	{"10 ", -1},
	{"1KiB", -1},
	{"1x", -1},
	{"+", -1},
	{"-", -1},
}

func TestParseSize(t *testing.T) {
	for _, tt := range parseSizeTests {
		got, err := ParseSize(tt.in)
		if tt.want < 0 {
			if err == nil {
				t.Errorf("ParseSize(%q) = %d, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseSizeMessages(t *testing.T) {
	tests := []struct{ in, want string }{
		{"banana", `could not parse size "banana"`},
		{"1x", `could not parse size "1x": unknown suffix "x"`},
		{"-5", `size "-5" is negative`},
		{"8E", `size "8E" is too large`},
		{"9223372036854775808", `size "9223372036854775808" is too large`},
	}
	for _, tt := range tests {
		_, err := ParseSize(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseSize(%q) error = %v, want %q", tt.in, err, tt.want)
		}
	}
}

// TestParseSizeMatchesNbdkit runs nbdkit on each input of parseSizeTests, when it is
// installed, to keep the table honest.
func TestParseSizeMatchesNbdkit(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: starts nbdkit for each case")
	}
	if _, err := exec.LookPath("nbdkit"); err != nil {
		t.Skip("nbdkit not installed")
	}
	if _, err := exec.LookPath("nbdinfo"); err != nil {
		t.Skip("nbdinfo not installed")
	}
	for _, tt := range parseSizeTests {
		if tt.want > 1<<62 {
			continue // the memory plugin's sparse array takes a while to set up
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, "nbdkit", "-U", "-", "memory", "size="+tt.in,
			"--run", `nbdinfo --size "$uri"`).CombinedOutput()
		cancel()
		if tt.want < 0 {
			if err == nil {
				t.Errorf("nbdkit accepts size=%q (%s); the table says it refuses it", tt.in, out)
			}
			continue
		}
		got, perr := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		if err != nil || perr != nil || got != tt.want {
			t.Errorf("nbdkit size=%q: %q, %v; the table says %d", tt.in, out, err, tt.want)
		}
	}
}

func TestParseBool(t *testing.T) {
	for _, in := range []string{"1", "true", "TRUE", "True", "t", "T", "yes", "Yes", "y", "Y", "on", "ON", "On"} {
		if got, err := ParseBool(in); err != nil || !got {
			t.Errorf("ParseBool(%q) = %v, %v; want true", in, got, err)
		}
	}
	for _, in := range []string{"0", "false", "FALSE", "f", "F", "no", "NO", "n", "N", "off", "Off"} {
		if got, err := ParseBool(in); err != nil || got {
			t.Errorf("ParseBool(%q) = %v, %v; want false", in, got, err)
		}
	}
	// Refused by nbdkit too ("could not decipher boolean").
	for _, in := range []string{"", "2", " 1", "1 ", "truee", "enable", "01", "-1"} {
		if got, err := ParseBool(in); err == nil {
			t.Errorf("ParseBool(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		in      string
		bitSize int
		want    int64
		wantErr string // a substring of the error, or "" for success
	}{
		{"0", 64, 0, ""},
		{"10", 64, 10, ""},
		{"0x10", 64, 16, ""},
		{"0XfF", 64, 255, ""},
		{"010", 64, 8, ""},
		{" 5", 64, 5, ""},
		{"+5", 64, 5, ""},
		{"-5", 64, -5, ""},
		{"-0x10", 64, -16, ""},
		{"9223372036854775807", 64, 1<<63 - 1, ""},
		{"-9223372036854775808", 64, -1 << 63, ""},
		{"9223372036854775808", 64, 0, "out of range"},
		{"-9223372036854775809", 64, 0, "out of range"},
		{"99999999999999999999999", 64, 0, "out of range"},
		{"127", 8, 127, ""},
		{"-128", 8, -128, ""},
		{"128", 8, 0, "out of range"},
		{"2147483648", 32, 0, "out of range"},
		{"", 64, 0, "empty"},
		{"   ", 64, 0, "empty"},
		{"-", 64, 0, "could not parse"},
		{"x", 64, 0, "could not parse"},
		{"08", 64, 0, "trailing garbage"},
		{"0x", 64, 0, "trailing garbage"},
		{"1k", 64, 0, "trailing garbage"},
		{"5 ", 64, 0, "trailing garbage"},
		{"0b1", 64, 0, "trailing garbage"}, // Go's 0b and 0o and _ are not C's
		{"1_000", 64, 0, "trailing garbage"},
	}
	for _, tt := range tests {
		got, err := ParseInt(tt.in, tt.bitSize)
		if tt.wantErr == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseInt(%q, %d) = %d, %v; want %d", tt.in, tt.bitSize, got, err, tt.want)
			}
		} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseInt(%q, %d) = %d, %v; want an error containing %q", tt.in, tt.bitSize, got, err, tt.wantErr)
		}
	}
}

func TestParseUint(t *testing.T) {
	// These follow nbdkit 1.32's nbdkit_parse_uint32_t (nbdkit random seed=X).
	tests := []struct {
		in      string
		bitSize int
		want    uint64
		wantErr string
	}{
		{"0", 32, 0, ""},
		{"0x10", 32, 16, ""},
		{"010", 32, 8, ""},
		{" 5", 32, 5, ""},
		{"+5", 32, 5, ""},
		{"-0", 32, 0, ""},
		{"4294967295", 32, 1<<32 - 1, ""},
		{"18446744073709551615", 64, 1<<64 - 1, ""},
		{"4294967296", 32, 0, "out of range"},
		{"18446744073709551616", 64, 0, "out of range"},
		{"-1", 32, 0, "negative"},
		{"", 32, 0, "empty"},
		{"08", 32, 0, "trailing garbage"},
		{"0x", 32, 0, "trailing garbage"},
		{"1k", 32, 0, "trailing garbage"},
	}
	for _, tt := range tests {
		got, err := ParseUint(tt.in, tt.bitSize)
		if tt.wantErr == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseUint(%q, %d) = %d, %v; want %d", tt.in, tt.bitSize, got, err, tt.want)
			}
		} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseUint(%q, %d) = %d, %v; want an error containing %q", tt.in, tt.bitSize, got, err, tt.wantErr)
		}
	}
}

func params(kv ...string) *Params {
	var list []Param
	for i := 0; i < len(kv); i += 2 {
		list = append(list, Param{kv[i], kv[i+1]})
	}
	return NewParams(list, nil)
}

func TestParamsAccessors(t *testing.T) {
	p := params("size", "1M", "file", "a", "ro", "yes", "file", "b", "seed", "0x10",
		"count", "-3", "size", "2M", "junk", "x")

	if p.Logger == nil {
		t.Fatal("NewParams(nil logger).Logger is nil")
	}
	if size, err := p.Size("size", 0); err != nil || size != 2<<20 {
		t.Errorf("Size = %d, %v; want the last value, 2M", size, err)
	}
	if files := p.All("file"); !slices.Equal(files, []string{"a", "b"}) {
		t.Errorf("All(file) = %q", files)
	}
	if ro, err := p.Bool("ro", false); err != nil || !ro {
		t.Errorf("Bool(ro) = %v, %v", ro, err)
	}
	if seed, err := p.Uint32("seed", 0); err != nil || seed != 16 {
		t.Errorf("Uint32(seed) = %d, %v", seed, err)
	}
	if count, err := p.Int64("count", 0); err != nil || count != -3 {
		t.Errorf("Int64(count) = %d, %v", count, err)
	}
	if got := p.String("absent", "dflt"); got != "dflt" {
		t.Errorf("String(absent) = %q", got)
	}
	if got, err := p.Size("absent", 42); err != nil || got != 42 {
		t.Errorf("Size(absent) = %d, %v; want the default", got, err)
	}
	if _, ok := p.Lookup("absent"); ok {
		t.Error("Lookup(absent) found it")
	}
	if _, err := p.Required("absent"); err == nil || err.Error() != "missing required parameter absent" {
		t.Errorf("Required(absent) error = %v", err)
	}

	if unused := p.Unused(); !slices.Equal(unused, []Param{{"junk", "x"}}) {
		t.Errorf("Unused() = %v, want just junk=x", unused)
	}
	if n := len(p.List()); n != 8 {
		t.Errorf("List() has %d parameters, want 8", n)
	}
}

func TestParamsErrorsNameTheKey(t *testing.T) {
	p := params("size", "banana", "ro", "maybe", "seed", "-1", "count", "1k")
	if _, err := p.Size("size", 0); err == nil || err.Error() != `size=banana: could not parse size "banana"` {
		t.Errorf("Size error = %v", err)
	}
	if _, err := p.Bool("ro", false); err == nil || !strings.HasPrefix(err.Error(), "ro=maybe: ") {
		t.Errorf("Bool error = %v", err)
	}
	if _, err := p.Uint32("seed", 0); err == nil || !strings.HasPrefix(err.Error(), "seed=-1: ") {
		t.Errorf("Uint32 error = %v", err)
	}
	if _, err := p.Int64("count", 0); err == nil || !strings.HasPrefix(err.Error(), "count=1k: ") {
		t.Errorf("Int64 error = %v", err)
	}
}

// TestParamsRest follows parameters through a stack the way the command line passes
// them: a filter takes its keys and the rest go on, so a filter's key never reaches the
// plugin even if the plugin has a key of the same name.
func TestParamsRest(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	all := NewParams([]Param{{"cache", "writeback"}, {"file", "disk.img"}, {"cache", "unsafe"}, {"bogus", "1"}}, logger)

	filterCache := all.String("cache", "")
	pluginParams := all.Rest()
	if pluginParams.Logger != logger {
		t.Error("Rest does not keep the logger")
	}
	if _, ok := pluginParams.Lookup("cache"); ok {
		t.Error("the plugin sees the filter's cache= key")
	}
	if filterCache != "unsafe" {
		t.Errorf("filter's cache = %q", filterCache)
	}
	if file := pluginParams.String("file", ""); file != "disk.img" {
		t.Errorf("plugin's file = %q", file)
	}
	if unused := pluginParams.Unused(); !slices.Equal(unused, []Param{{"bogus", "1"}}) {
		t.Errorf("left unused: %v, want bogus=1", unused)
	}
	if len(all.Unused()) != 2 {
		t.Errorf("Rest changed the parent's marks: %v", all.Unused())
	}
}

func TestParamsCopiesList(t *testing.T) {
	list := []Param{{"a", "1"}}
	p := NewParams(list, nil)
	list[0].Value = "changed"
	if got := p.String("a", ""); got != "1" {
		t.Errorf("NewParams shares the caller's slice: a = %q", got)
	}
	if len(p.Unused()) != 0 {
		t.Errorf("Unused = %v after reading a", p.Unused())
	}
}
