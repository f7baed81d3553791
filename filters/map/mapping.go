package mapfilter

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/gonbd/gonbd/server"
)

// A Mapping sends a range of the export to another offset of the plugin.
type Mapping struct {
	// Start is the first byte of the range, in the export.
	Start int64
	// Length is the range's length; ToEnd means "up to the end of the export".
	Length int64
	// Dest is where the range starts in the plugin.
	Dest int64
	// Source says where the mapping was written, for errors ("disk.map:3").
	Source string
}

// ToEnd is the Length of a mapping written START-, which reaches the end of the export.
const ToEnd = -1

func (m Mapping) String() string {
	if m.Length == ToEnd {
		return fmt.Sprintf("%d- → %d", m.Start, m.Dest)
	}
	return fmt.Sprintf("%d,%d → %d", m.Start, m.Length, m.Dest)
}

// ParseMapping parses one mapping as a map file line writes it, without the line's
// comment: "START,LENGTH DEST", "START-END DEST" (END inclusive) or "START- DEST"
// (to the end of the export). The inline form of the map= parameter, with a colon
// before DEST ("START-END:DEST"), is accepted too. Numbers are sizes as
// nbdkit writes them (4096, 1M, 2G), or hexadecimal (0x1000).
func ParseMapping(s string) (Mapping, error) {
	fields := strings.Fields(s)
	var rng, dest string
	switch {
	case len(fields) == 2:
		rng, dest = fields[0], fields[1]
	case len(fields) == 1 && strings.Contains(s, ":"):
		rng, dest, _ = strings.Cut(fields[0], ":")
	default:
		return Mapping{}, fmt.Errorf("cannot parse mapping %q (expected START,LENGTH DEST or START-END DEST)", s)
	}
	var m Mapping
	var err error
	if m.Dest, err = parseOffset(dest); err != nil {
		return Mapping{}, fmt.Errorf("mapping %q: destination: %w", s, err)
	}
	if start, length, ok := strings.Cut(rng, ","); ok {
		if m.Start, err = parseOffset(start); err != nil {
			return Mapping{}, fmt.Errorf("mapping %q: start: %w", s, err)
		}
		if m.Length, err = parseOffset(length); err != nil {
			return Mapping{}, fmt.Errorf("mapping %q: length: %w", s, err)
		}
	} else if start, end, ok := strings.Cut(rng, "-"); ok {
		if m.Start, err = parseOffset(start); err != nil {
			return Mapping{}, fmt.Errorf("mapping %q: start: %w", s, err)
		}
		if end == "" {
			m.Length = ToEnd
		} else {
			last, err := parseOffset(end)
			if err != nil {
				return Mapping{}, fmt.Errorf("mapping %q: end: %w", s, err)
			}
			if last < m.Start {
				return Mapping{}, fmt.Errorf("mapping %q: the end is before the start", s)
			}
			if last == math.MaxInt64 {
				return Mapping{}, fmt.Errorf("mapping %q: the end is too large", s)
			}
			m.Length = last - m.Start + 1
		}
	} else {
		return Mapping{}, fmt.Errorf("cannot parse mapping %q: the range is neither START,LENGTH nor START-END", s)
	}
	if m.Length != ToEnd && (m.Start > math.MaxInt64-m.Length || m.Dest > math.MaxInt64-m.Length) {
		return Mapping{}, fmt.Errorf("mapping %q: the range is too large", s)
	}
	return m, nil
}

// parseOffset parses a size ("1M") or a hexadecimal number ("0x100000").
func parseOffset(s string) (int64, error) {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		n, err := server.ParseUint(s, 63)
		return int64(n), err
	}
	return server.ParseSize(s)
}

// ReadMappings reads a map file: one mapping per line (see [ParseMapping]), with
// blank lines and comments from # to the end of the line ignored. name is used in
// errors and in the mappings' Source.
func ReadMappings(r io.Reader, name string) ([]Mapping, error) {
	var maps []Mapping
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if strings.TrimSpace(line) == "" {
			continue
		}
		m, err := ParseMapping(strings.TrimSpace(line))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		m.Source = fmt.Sprintf("%s:%d", name, n)
		maps = append(maps, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return maps, nil
}

// ParseParam parses a value of the map= parameter: a mapping written inline
// ("START-END:DEST") or the name of a map file to read.
func ParseParam(v string) ([]Mapping, error) {
	if v == "" {
		return nil, errors.New("empty value (expected a map file or START-END:DEST)")
	}
	if looksInline(v) {
		m, err := ParseMapping(v)
		if err != nil {
			return nil, err
		}
		m.Source = "map=" + v
		return []Mapping{m}, nil
	}
	f, err := os.Open(v)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadMappings(f, v)
}

// looksInline reports whether a map= value is a mapping rather than a file name: a
// range of digits and size letters, a colon, and a destination. A file with such a
// name can be given as ./NAME.
func looksInline(v string) bool {
	rng, dest, ok := strings.Cut(v, ":")
	if !ok || dest == "" || rng == "" || !strings.ContainsAny(rng, ",-") {
		return false
	}
	for _, c := range rng + dest {
		if !strings.ContainsRune("0123456789abcdefABCDEFxXkKmMgGtTpPsS,-", c) {
			return false
		}
	}
	return true
}
