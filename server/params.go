package server

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
)

// A Param is one key=value parameter from the command line.
type Param struct{ Key, Value string }

// Params are the parameters of a plugin or filter, in command-line order. Each accessor
// marks the keys it reads as used; the command line refuses parameters nothing used,
// naming them ("unknown parameter KEY").
//
// Parameters flow as in nbdkit, from the client side inwards: the command line gives
// the first filter every parameter; each filter reads the keys it understands, and the
// next layer gets [Params.Rest], the parameters nothing read yet; the plugin gets the
// Rest of the last filter. Whatever the plugin leaves [Params.Unused] is an error. So a
// key a filter understands (cache=, say) never reaches the plugin, even if the plugin
// has a key of the same name.
//
// Params are not safe for concurrent use; layers read them while they are made.
type Params struct {
	// Logger is where the plugin or filter logs; never nil when the CLI makes it.
	Logger *slog.Logger
	list   []Param
	used   []bool
}

// NewParams returns the parameters in list, none used yet. A nil logger is replaced by
// one that discards everything, so that Logger is never nil.
func NewParams(list []Param, logger *slog.Logger) *Params {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Params{
		Logger: logger,
		list:   append([]Param(nil), list...),
		used:   make([]bool, len(list)),
	}
}

// Lookup returns the value of key and whether it was given. When key was given more
// than once, the last value wins, as the command line's last word usually does; every
// occurrence is marked used.
func (p *Params) Lookup(key string) (string, bool) {
	value, found := "", false
	for i, param := range p.list {
		if param.Key == key {
			value, found = param.Value, true
			p.used[i] = true
		}
	}
	return value, found
}

// All returns every value of key in order, for keys that may be repeated (file=a
// file=b), and marks them used. It returns nil if key was not given.
func (p *Params) All(key string) []string {
	var values []string
	for i, param := range p.list {
		if param.Key == key {
			values = append(values, param.Value)
			p.used[i] = true
		}
	}
	return values
}

// String returns the value of key, or def if it was not given.
func (p *Params) String(key, def string) string {
	if value, ok := p.Lookup(key); ok {
		return value
	}
	return def
}

// Required returns the value of key, or an error naming it if it was not given.
func (p *Params) Required(key string) (string, error) {
	if value, ok := p.Lookup(key); ok {
		return value, nil
	}
	return "", fmt.Errorf("missing required parameter %s", key)
}

// Size returns the value of key parsed by [ParseSize] (1M, 2G, 512...), or def if it
// was not given.
func (p *Params) Size(key string, def int64) (int64, error) {
	return lookupParsed(p, key, def, ParseSize)
}

// Bool returns the value of key parsed by [ParseBool] (on, off, true, no...), or def if
// it was not given.
func (p *Params) Bool(key string, def bool) (bool, error) {
	return lookupParsed(p, key, def, ParseBool)
}

// Int64 returns the value of key parsed by [ParseInt] as a 64-bit integer, or def if it
// was not given.
func (p *Params) Int64(key string, def int64) (int64, error) {
	return lookupParsed(p, key, def, func(s string) (int64, error) { return ParseInt(s, 64) })
}

// Uint32 returns the value of key parsed by [ParseUint] as a 32-bit unsigned integer,
// or def if it was not given.
func (p *Params) Uint32(key string, def uint32) (uint32, error) {
	return lookupParsed(p, key, def, func(s string) (uint32, error) {
		n, err := ParseUint(s, 32)
		return uint32(n), err
	})
}

// lookupParsed is the body of the typed accessors: it parses the last value of key and
// prefixes errors with key=value, which is what the user typed.
func lookupParsed[T any](p *Params, key string, def T, parse func(string) (T, error)) (T, error) {
	value, ok := p.Lookup(key)
	if !ok {
		return def, nil
	}
	v, err := parse(value)
	if err != nil {
		return def, fmt.Errorf("%s=%s: %w", key, value, err)
	}
	return v, nil
}

// Unused returns the parameters no accessor has read, in order.
func (p *Params) Unused() []Param {
	var unused []Param
	for i, param := range p.list {
		if !p.used[i] {
			unused = append(unused, param)
		}
	}
	return unused
}

// List returns every parameter in order, used or not. It marks nothing used: a layer
// that takes every parameter (as a plugin forwarding its configuration would) reads
// them through Lookup or All.
func (p *Params) List() []Param {
	return append([]Param(nil), p.list...)
}

// Rest returns the parameters nothing has read yet, unused, for the next layer (see
// [Params]). It shares the Logger.
func (p *Params) Rest() *Params {
	return NewParams(p.Unused(), p.Logger)
}

// ParseSize parses a size in bytes with nbdkit's syntax (nbdkit_parse_size): a decimal
// integer, optionally after spaces and a '+', followed by at most one suffix: b or B
// for bytes, s or S for 512-byte sectors, or k, M, G, T, P, E (either case) for powers
// of 1024. Leading zeroes do not make the number octal, and there is no hexadecimal
// form ("0x10" is refused, as the suffix x is unknown). Negative sizes and sizes past
// the largest int64 are refused.
func ParseSize(s string) (int64, error) {
	digits := strings.TrimLeft(s, cSpaces)
	negative := false
	if len(digits) > 0 && (digits[0] == '+' || digits[0] == '-') {
		negative = digits[0] == '-'
		digits = digits[1:]
	}
	end := 0
	for end < len(digits) && '0' <= digits[end] && digits[end] <= '9' {
		end++
	}
	if end == 0 {
		return 0, fmt.Errorf("could not parse size %q", s)
	}
	n, overflow := uint64(0), false
	for _, c := range digits[:end] {
		d := uint64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			overflow = true
			break
		}
		n = n*10 + d
	}
	if negative && (n != 0 || overflow) {
		return 0, fmt.Errorf("size %q is negative", s)
	}
	if overflow {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	var scale uint64
	switch suffix := digits[end:]; strings.ToLower(suffix) {
	case "", "b":
		scale = 1
	case "s":
		scale = 512
	case "k":
		scale = 1 << 10
	case "m":
		scale = 1 << 20
	case "g":
		scale = 1 << 30
	case "t":
		scale = 1 << 40
	case "p":
		scale = 1 << 50
	case "e":
		scale = 1 << 60
	default:
		return 0, fmt.Errorf("could not parse size %q: unknown suffix %q", s, suffix)
	}
	if n > math.MaxInt64/scale {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(n * scale), nil
}

// ParseBool parses a boolean with nbdkit's syntax (nbdkit_parse_bool): 1, true, t,
// yes, y and on mean true; 0, false, f, no, n and off mean false. Case does not matter;
// spaces are not allowed.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "true", "t", "yes", "y", "on":
		return true, nil
	case "0", "false", "f", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("could not parse boolean %q (expected on/off, true/false, yes/no or 1/0)", s)
}

// ParseInt parses a signed integer that fits in bitSize bits (8, 16, 32 or 64; 0 means
// the size of int, as in [strconv.ParseInt]) with
// nbdkit's syntax (nbdkit_parse_int and friends, which use C's strtol with base 0):
// optional leading spaces, an optional sign, then decimal, hexadecimal after 0x or 0X,
// or octal after a leading 0. Nothing may follow the digits.
func ParseInt(s string, bitSize int) (int64, error) {
	negative, magnitude, err := parseCInteger(s)
	if err != nil {
		return 0, err
	}
	limit := uint64(1) << (intBits(bitSize) - 1) // the magnitude of the smallest value
	if !negative && magnitude >= limit || negative && magnitude > limit {
		return 0, fmt.Errorf("number %q out of range", s)
	}
	if negative {
		// For magnitude 1<<63, int64 conversion and negation both wrap around to
		// math.MinInt64, which is the right answer.
		return -int64(magnitude), nil
	}
	return int64(magnitude), nil
}

// ParseUint parses an unsigned integer that fits in bitSize bits (8, 16, 32 or 64; 0
// means the size of uint) with
// the syntax of [ParseInt]. Negative numbers are refused (C's strtoul would wrap them
// around; nbdkit refuses them too).
func ParseUint(s string, bitSize int) (uint64, error) {
	negative, magnitude, err := parseCInteger(s)
	if err != nil {
		return 0, err
	}
	if negative && magnitude != 0 {
		return 0, fmt.Errorf("number %q is negative", s)
	}
	if bits := intBits(bitSize); bits < 64 && magnitude >= 1<<bits {
		return 0, fmt.Errorf("number %q out of range", s)
	}
	return magnitude, nil
}

// intBits returns the width ParseInt and ParseUint check against: bitSize, the size of
// int for 0, and at most 64.
func intBits(bitSize int) int {
	if bitSize <= 0 || bitSize > 64 {
		return strconv.IntSize
	}
	return bitSize
}

// cSpaces are the characters C's isspace accepts, which strtol skips.
const cSpaces = " \t\n\v\f\r"

// parseCInteger parses what strtoull with base 0 accepts, insisting that the whole
// string is used and that the magnitude fits in 64 bits.
func parseCInteger(s string) (negative bool, magnitude uint64, err error) {
	rest := strings.TrimLeft(s, cSpaces)
	if rest == "" {
		return false, 0, fmt.Errorf("empty string where a number was expected")
	}
	if rest[0] == '+' || rest[0] == '-' {
		negative = rest[0] == '-'
		rest = rest[1:]
	}
	base, overflow := uint64(10), false
	switch {
	case len(rest) > 2 && (rest[:2] == "0x" || rest[:2] == "0X") && digitValue(rest[2]) < 16:
		base, rest = 16, rest[2:]
	case len(rest) > 1 && rest[0] == '0':
		base = 8
	}
	if rest == "" || digitValue(rest[0]) >= base {
		return false, 0, fmt.Errorf("could not parse number %q", s)
	}
	for i := 0; i < len(rest); i++ {
		d := digitValue(rest[i])
		if d >= base {
			return false, 0, fmt.Errorf("could not parse number %q: trailing garbage %q", s, rest[i:])
		}
		if magnitude > (math.MaxUint64-d)/base {
			overflow = true
			continue // keep checking the syntax: garbage is the better message
		}
		magnitude = magnitude*base + d
	}
	if overflow {
		return false, 0, fmt.Errorf("number %q out of range", s)
	}
	return negative, magnitude, nil
}

// digitValue returns the value of an ASCII digit in bases up to 16, or 16 for anything
// else.
func digitValue(c byte) uint64 {
	switch {
	case '0' <= c && c <= '9':
		return uint64(c - '0')
	case 'a' <= c && c <= 'f':
		return uint64(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return uint64(c-'A') + 10
	}
	return 16
}
