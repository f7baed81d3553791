package tar

import (
	"bytes"
	"fmt"
	"strconv"
)

// blockSize is the unit of a tar archive: headers take one block, and each member's data
// is padded to a whole number of blocks.
const blockSize = 512

// Type flags of the headers this filter tells apart (POSIX, GNU and pax).
const (
	typeRegular       = '0'
	typeRegularOld    = 0 // pre-POSIX archives use NUL for regular files
	typeContiguous    = '7'
	typeGNULongName   = 'L'
	typeGNULongLink   = 'K'
	typeGNUSparse     = 'S'
	typeGNUMultiVol   = 'M'
	typePaxExtended   = 'x'
	typePaxGlobal     = 'g'
	typeSolarisExtend = 'X' // Solaris' pax extended header, same syntax as 'x'
)

// Field offsets and widths of a header block (ustar layout; GNU shares the first 345
// bytes).
const (
	nameOff, nameLen         = 0, 100
	sizeOff, sizeLen         = 124, 12
	checksumOff, checksumLen = 148, 8
	typeOff                  = 156
	magicOff, magicLen       = 257, 8 // magic and version together
	prefixOff, prefixLen     = 345, 155
	gnuExtendedOff           = 482 // GNU sparse: more sparse map blocks follow
	sparseExtendedFlagOff    = 504 // in a GNU sparse extension block
)

var (
	magicUstar = []byte("ustar\x0000")
	magicGNU   = []byte("ustar  \x00")
)

// header is what one header block says, with the numbers decoded.
type header struct {
	name      string
	size      int64
	typeflag  byte
	ustar     bool // POSIX ustar: the prefix field holds the start of long names
	gnuExtend bool // GNU sparse header followed by sparse map blocks
}

// parseHeader decodes a header block, checking its checksum. A block of zeroes is the
// end of the archive: parseHeader reports it with end set.
func parseHeader(b []byte) (h header, end bool, err error) {
	if isZero(b) {
		return h, true, nil
	}
	stored, err := parseNumber(b[checksumOff : checksumOff+checksumLen])
	if err != nil {
		return h, false, fmt.Errorf("bad checksum field: %w", err)
	}
	unsigned, signed := checksums(b)
	if stored != unsigned && stored != signed {
		return h, false, fmt.Errorf("header checksum mismatch (stored %d, computed %d): not a tar archive, or a damaged one", stored, unsigned)
	}
	if h.size, err = parseNumber(b[sizeOff : sizeOff+sizeLen]); err != nil {
		return h, false, fmt.Errorf("bad size field: %w", err)
	}
	if h.size < 0 {
		return h, false, fmt.Errorf("negative size %d", h.size)
	}
	h.typeflag = b[typeOff]
	h.name = cString(b[nameOff : nameOff+nameLen])
	magic := b[magicOff : magicOff+magicLen]
	h.ustar = bytes.Equal(magic, magicUstar)
	if h.ustar {
		if prefix := cString(b[prefixOff : prefixOff+prefixLen]); prefix != "" {
			h.name = prefix + "/" + h.name
		}
	}
	h.gnuExtend = bytes.Equal(magic, magicGNU) && h.typeflag == typeGNUSparse && b[gnuExtendedOff] != 0
	return h, false, nil
}

// checksums returns the sum of the block's bytes with the checksum field counted as
// spaces, as unsigned and as signed bytes (some old tars used signed char).
func checksums(b []byte) (unsigned, signed int64) {
	for i, c := range b {
		if checksumOff <= i && i < checksumOff+checksumLen {
			c = ' '
		}
		unsigned += int64(c)
		signed += int64(int8(c))
	}
	return unsigned, signed
}

// parseNumber decodes a numeric field: octal digits ended by a space or NUL, or GNU's
// base-256 form (the first byte's top bit set) for values octal cannot hold.
func parseNumber(field []byte) (int64, error) {
	if len(field) > 0 && field[0]&0x80 != 0 {
		return parseBase256(field)
	}
	s := string(bytes.Trim(field, " \x00"))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 8, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an octal number", s)
	}
	return n, nil
}

// parseBase256 decodes GNU's base-256 form of a non-negative number: big-endian bytes
// after the marker bit (0x80) of the first. The negative form (first byte 0xff) cannot be
// a size or an offset and is refused.
func parseBase256(field []byte) (int64, error) {
	if field[0] != 0x80 {
		return 0, fmt.Errorf("negative or malformed base-256 number")
	}
	var n uint64
	for i, c := range field[1:] {
		if i < len(field)-1-8 && c != 0 || n > 1<<55-1 {
			return 0, fmt.Errorf("base-256 number does not fit in 63 bits")
		}
		n = n<<8 | uint64(c)
	}
	return int64(n), nil
}

// cString returns the bytes of field up to the first NUL.
func cString(field []byte) string {
	if i := bytes.IndexByte(field, 0); i >= 0 {
		field = field[:i]
	}
	return string(field)
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// paxRecords are the keywords of a pax extended header that matter here.
type paxRecords struct {
	path   string
	size   int64
	sparse bool // a GNU.sparse.* keyword: the member is stored sparse
	// sparseName is GNU.sparse.name: the real name of a sparse member (format 1.0,
	// whose header name is a made-up ./GNUSparseFile.N/NAME).
	sparseName       string
	hasPath, hasSize bool
}

// parsePax decodes the records of a pax extended header: "LENGTH KEYWORD=VALUE\n", the
// length counting the whole record.
func parsePax(data []byte) (paxRecords, error) {
	var r paxRecords
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp <= 0 {
			if isZero(data) {
				break // some writers pad the data with NULs
			}
			return r, fmt.Errorf("malformed pax record")
		}
		n, err := strconv.Atoi(string(data[:sp]))
		if err != nil || n <= sp+1 || n > len(data) || data[n-1] != '\n' {
			return r, fmt.Errorf("malformed pax record length %q", data[:sp])
		}
		key, value, ok := bytes.Cut(data[sp+1:n-1], []byte("="))
		if !ok {
			return r, fmt.Errorf("pax record without '=': %q", data[sp+1:n-1])
		}
		data = data[n:]
		switch k := string(key); {
		case k == "path":
			r.path, r.hasPath = string(value), true
		case k == "size":
			size, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || size < 0 {
				return r, fmt.Errorf("bad pax size %q", value)
			}
			r.size, r.hasSize = size, true
		case k == "GNU.sparse.name":
			r.sparseName, r.sparse = string(value), true
		case bytes.HasPrefix(key, []byte("GNU.sparse.")):
			r.sparse = true
		}
	}
	return r, nil
}
