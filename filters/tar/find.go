package tar

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// maxMetaSize bounds the data of a GNU long name or pax extended header this filter
// reads into memory: real ones hold a path or a few keywords.
const maxMetaSize = 1 << 20

// A member is where a member's data lies in the archive.
type member struct {
	offset, size int64
}

// ErrNotFound is in the chain of the error findMember returns when the archive has no
// member of that name.
var ErrNotFound = errors.New("no such entry in the tar archive")

// scanner walks the headers of an archive of size bytes read through r.
type scanner struct {
	r     io.ReaderAt
	size  int64
	limit int64 // stop looking past this offset; 0 for no limit
	block [blockSize]byte
}

// findMember returns where the data of the first member called name lies. Headers are
// read one by one: the data of the members before it is skipped, not read.
func (s *scanner) findMember(name string) (member, error) {
	var (
		off int64
		// The pending metadata applies to the next real header.
		longName string
		hasLong  bool
		pax      paxRecords
		hasPax   bool
	)
	for {
		if s.limit > 0 && off >= s.limit {
			return member{}, server.Errorf(syscall.ENOENT,
				"tar-entry %q: %w in the first %d bytes (tar-limit)", name, ErrNotFound, s.limit)
		}
		if off+blockSize > s.size {
			if off == s.size {
				return member{}, server.Errorf(syscall.ENOENT, "tar-entry %q: %w", name, ErrNotFound)
			}
			return member{}, server.Errorf(syscall.EIO,
				"tar-entry %q: the archive ends inside a header at offset %d: truncated?", name, off)
		}
		if err := s.read(s.block[:], off); err != nil {
			return member{}, err
		}
		h, end, err := parseHeader(s.block[:])
		if err != nil {
			return member{}, server.Errorf(syscall.EIO, "tar header at offset %d: %v", off, err)
		}
		if end {
			return member{}, server.Errorf(syscall.ENOENT, "tar-entry %q: %w", name, ErrNotFound)
		}
		headerOff := off
		off += blockSize
		if h.gnuExtend {
			if off, err = s.skipSparseMap(off); err != nil {
				return member{}, err
			}
		}
		dataOff := off
		size := h.size
		if hasPax && pax.hasSize && isFileType(h.typeflag) {
			size = pax.size
		}
		if size > s.size-dataOff {
			return member{}, server.Errorf(syscall.EIO,
				"tar member at offset %d claims %d bytes of data, past the end of the %d-byte archive: truncated?",
				headerOff, size, s.size)
		}
		off = dataOff + roundUp(size)

		switch h.typeflag {
		case typeGNULongName, typeGNULongLink, typePaxExtended, typeSolarisExtend, typePaxGlobal:
			data, err := s.readMeta(dataOff, size, headerOff)
			if err != nil {
				return member{}, err
			}
			switch h.typeflag {
			case typeGNULongName:
				longName, hasLong = cString(data), true
			case typePaxExtended, typeSolarisExtend:
				if pax, err = parsePax(data); err != nil {
					return member{}, server.Errorf(syscall.EIO, "pax header at offset %d: %v", headerOff, err)
				}
				hasPax = true
			}
			// Global pax headers and long link names say nothing about which member
			// is which, or where its data is.
			continue
		}

		fullName := h.name
		if hasLong {
			fullName = longName
		}
		sparse := h.typeflag == typeGNUSparse
		if hasPax {
			if pax.hasPath {
				fullName = pax.path
			}
			if pax.sparseName != "" {
				fullName = pax.sparseName
			}
			sparse = sparse || pax.sparse
		}
		longName, hasLong, pax, hasPax = "", false, paxRecords{}, false
		if fullName != name {
			continue
		}
		switch {
		case sparse:
			return member{}, server.Errorf(syscall.ENOTSUP,
				"tar-entry %q is stored sparse in the archive, which this filter cannot serve: make the archive without --sparse (-S)", name)
		case h.typeflag == typeGNUMultiVol:
			return member{}, server.Errorf(syscall.ENOTSUP,
				"tar-entry %q continues from another volume of a multi-volume archive", name)
		case !isFileType(h.typeflag):
			return member{}, server.Errorf(syscall.EINVAL,
				"tar-entry %q is not a regular file (tar type flag %q)", name, h.typeflag)
		}
		return member{offset: dataOff, size: size}, nil
	}
}

// read reads len(p) bytes at off.
func (s *scanner) read(p []byte, off int64) error {
	if _, err := s.r.ReadAt(p, off); err != nil {
		return fmt.Errorf("reading the tar archive at offset %d: %w", off, err)
	}
	return nil
}

// readMeta reads the data of a long name or pax header.
func (s *scanner) readMeta(off, size, headerOff int64) ([]byte, error) {
	if size > maxMetaSize {
		return nil, server.Errorf(syscall.EIO,
			"tar metadata header at offset %d holds %d bytes, more than the %d this filter accepts", headerOff, size, maxMetaSize)
	}
	if s.limit > 0 && off+size > s.limit {
		return nil, server.Errorf(syscall.ENOENT,
			"tar metadata header at offset %d runs past tar-limit (%d bytes)", headerOff, s.limit)
	}
	data := make([]byte, size)
	return data, s.read(data, off)
}

// skipSparseMap skips the extension blocks of a GNU sparse header's map, which start at
// off, and returns the offset of the member's data.
func (s *scanner) skipSparseMap(off int64) (int64, error) {
	for {
		if off+blockSize > s.size {
			return 0, server.Errorf(syscall.EIO, "the archive ends inside a GNU sparse map at offset %d", off)
		}
		if err := s.read(s.block[:], off); err != nil {
			return 0, err
		}
		off += blockSize
		if s.block[sparseExtendedFlagOff] == 0 {
			return off, nil
		}
	}
}

// isFileType reports whether the type flag is of a member whose data is a file's
// contents.
func isFileType(t byte) bool {
	return t == typeRegular || t == typeRegularOld || t == typeContiguous
}

// roundUp returns n rounded up to a whole number of blocks.
func roundUp(n int64) int64 {
	return (n + blockSize - 1) / blockSize * blockSize
}
