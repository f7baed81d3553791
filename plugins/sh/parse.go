package sh

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gonbd/gonbd/server"
)

// This file parses what scripts print, strictly: an answer that does not follow the
// calling convention is an error (the caller names the method), never a guess.

// chomp removes one trailing newline, as nbdkit does from handles, sizes, names and
// descriptions, so that `echo` can print them.
func chomp(s string) string { return strings.TrimSuffix(s, "\n") }

// parseSize parses get_size's answer: a size in nbdkit's syntax (1M, 512, 2G...).
func parseSize(out string) (int64, error) {
	return server.ParseSize(chomp(out))
}

// parseThreadModel parses thread_model's answer. Case does not matter, and '-' may
// stand for '_'. ok is false for anything else, which nbdkit ignores.
func parseThreadModel(out string) (model server.ThreadModel, ok bool) {
	switch strings.ReplaceAll(strings.ToLower(chomp(out)), "-", "_") {
	case "serialize_connections":
		return server.SerializeConnections, true
	case "serialize_all_requests":
		return server.SerializeAllRequests, true
	case "serialize_requests":
		return server.SerializeRequests, true
	case "parallel":
		return server.Parallel, true
	}
	return server.SerializeAllRequests, false
}

// mode is can_fua's and can_cache's answer.
type mode int

const (
	modeNone mode = iota
	modeEmulate
	modeNative
)

// parseMode parses "none", "emulate" or "native", in any case.
func parseMode(out string) (mode, error) {
	switch strings.ToLower(chomp(out)) {
	case "none":
		return modeNone, nil
	case "emulate":
		return modeEmulate, nil
	case "native":
		return modeNative, nil
	}
	return 0, fmt.Errorf("expected none, emulate or native, got %q", out)
}

// parseBlockSize parses block_size's answer: the minimum, preferred and maximum block
// sizes, separated by white space, each in nbdkit's size syntax. Whether they make
// sense together is the server's to check.
func parseBlockSize(out string) (server.BlockSize, error) {
	fields := strings.Fields(out)
	if len(fields) != 3 {
		return server.BlockSize{}, fmt.Errorf("expected three sizes (minimum, preferred, maximum), got %q", out)
	}
	var sizes [3]uint32
	for i, field := range fields {
		n, err := server.ParseSize(field)
		if err != nil {
			return server.BlockSize{}, err
		}
		if n > math.MaxUint32 {
			return server.BlockSize{}, fmt.Errorf("block size %q is larger than 4294967295", field)
		}
		sizes[i] = uint32(n)
	}
	return server.BlockSize{Minimum: sizes[0], Preferred: sizes[1], Maximum: sizes[2]}, nil
}

// lines splits output into lines. A final newline ends the last line rather than
// start an empty one; empty output has no lines.
func lines(out string) []string {
	if out == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

// addExtents parses extents' answer into e: one extent per line, "OFFSET LENGTH
// [TYPE]", fields separated by spaces or tabs, sizes in nbdkit's syntax. TYPE is a
// number from 0 to 3 (the base:allocation bits), or a comma-separated list of the
// words hole and zero (and data, which adds nothing); it defaults to 0, data.
func addExtents(out string, e *server.ExtentList) error {
	for _, line := range lines(out) {
		fields := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
		if len(fields) < 2 || len(fields) > 3 {
			return fmt.Errorf("cannot parse extent %q: expected OFFSET LENGTH [TYPE]", line)
		}
		off, err := server.ParseSize(fields[0])
		if err != nil {
			return fmt.Errorf("extent %q: offset: %w", line, err)
		}
		length, err := server.ParseSize(fields[1])
		if err != nil {
			return fmt.Errorf("extent %q: length: %w", line, err)
		}
		var t server.ExtentType
		if len(fields) == 3 {
			if t, err = parseExtentType(fields[2]); err != nil {
				return fmt.Errorf("extent %q: %w", line, err)
			}
		}
		if err := e.Add(off, length, t); err != nil {
			return fmt.Errorf("extent %q: %w", line, err)
		}
	}
	return nil
}

// parseExtentType parses an extent's TYPE field (see addExtents).
func parseExtentType(field string) (server.ExtentType, error) {
	if n, err := strconv.ParseUint(field, 10, 32); err == nil {
		if n > uint64(server.ExtentHole|server.ExtentZero) {
			return 0, fmt.Errorf("type %d has bits other than 1 (hole) and 2 (zero)", n)
		}
		return server.ExtentType(n), nil
	}
	var t server.ExtentType
	for word := range strings.SplitSeq(field, ",") {
		switch strings.ToLower(word) {
		case "hole":
			t |= server.ExtentHole
		case "zero":
			t |= server.ExtentZero
		case "data":
		default:
			return 0, fmt.Errorf("unknown type %q: expected a number, or words hole and zero separated by commas", word)
		}
	}
	return t, nil
}

// maxExportString is the longest export name or description, NBD's limit on strings.
const maxExportString = 4096

// parseExports parses list_exports' answer (default_export's too). Its first line
// says how the rest is laid out:
//
//   - NAMES: one export name per line, without descriptions;
//   - INTERLEAVED: a name, then its description, then the next name...;
//   - NAMES+DESCRIPTIONS: all the names, then all the descriptions in the same order.
//
// Those words may be in any case. A first line that is none of them is the first name
// of a NAMES list.
func parseExports(out string) ([]server.Export, error) {
	all := lines(out)
	if len(all) == 0 {
		return nil, nil
	}
	var exports []server.Export
	switch rest := all[1:]; strings.ToUpper(all[0]) {
	case "INTERLEAVED":
		if len(rest)%2 != 0 {
			return nil, errors.New("INTERLEAVED needs a description after each name, but the last name has none")
		}
		for i := 0; i < len(rest); i += 2 {
			exports = append(exports, server.Export{Name: rest[i], Description: rest[i+1]})
		}
	case "NAMES+DESCRIPTIONS":
		if len(rest)%2 != 0 {
			return nil, fmt.Errorf("NAMES+DESCRIPTIONS needs as many descriptions as names, but there are %d lines", len(rest))
		}
		half := len(rest) / 2
		for i := range half {
			exports = append(exports, server.Export{Name: rest[i], Description: rest[half+i]})
		}
	case "NAMES":
		for _, name := range rest {
			exports = append(exports, server.Export{Name: name})
		}
	default:
		for _, name := range all {
			exports = append(exports, server.Export{Name: name})
		}
	}
	for _, e := range exports {
		if len(e.Name) > maxExportString || len(e.Description) > maxExportString {
			return nil, fmt.Errorf("export %.40q...: names and descriptions are limited to %d bytes", e.Name, maxExportString)
		}
	}
	return exports, nil
}
