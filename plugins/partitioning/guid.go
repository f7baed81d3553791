package partitioning

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// A GUID is a globally unique identifier in the byte order GPT stores it: the first
// three fields little-endian, the last two as written ("mixed-endian"), so that the
// text 0FC63DAF-8483-4772-8E79-3D69D8477DE4 is stored as AF 3D C6 0F 83 84 72 47 8E 79
// 3D 69 D8 47 7D E4.
type GUID [16]byte

// linuxFilesystemGUID returns the GPT partition type of a Linux filesystem,
// 0FC63DAF-8483-4772-8E79-3D69D8477DE4, the default type of a partition.
func linuxFilesystemGUID() GUID {
	return GUID{0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4}
}

// storedIndex returns where the i-th byte of a GUID's text form (read as 16 bytes of
// hexadecimal, dashes left out) is stored: the first three fields are little-endian.
func storedIndex(i int) int {
	switch {
	case i < 4:
		return 3 - i
	case i < 6:
		return 9 - i
	case i < 8:
		return 13 - i
	}
	return i
}

// ParseGUID parses a GUID written as XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX in hexadecimal
// digits of either case, optionally between braces, as nbdkit accepts it.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	text := s
	if strings.HasPrefix(text, "{") && strings.HasSuffix(text, "}") {
		text = text[1 : len(text)-1]
	}
	if len(text) != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-' {
		return g, fmt.Errorf("could not parse GUID %q: expected the form 0FC63DAF-8483-4772-8E79-3D69D8477DE4", s)
	}
	var raw [16]byte
	digits := text[0:8] + text[9:13] + text[14:18] + text[19:23] + text[24:36]
	if _, err := hex.Decode(raw[:], []byte(digits)); err != nil {
		return g, fmt.Errorf("could not parse GUID %q: %w", s, err)
	}
	for i, b := range raw {
		g[storedIndex(i)] = b
	}
	return g, nil
}

// String returns the GUID in its usual text form, in upper case as sgdisk prints it.
func (g GUID) String() string {
	var raw [16]byte
	for i := range raw {
		raw[i] = g[storedIndex(i)]
	}
	h := strings.ToUpper(hex.EncodeToString(raw[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// randomGUID returns a random (version 4) GUID.
func randomGUID() GUID {
	var g GUID
	rand.Read(g[:]) // never fails: crypto/rand crashes the program rather than return an error
	// The version is the high nibble of the third field, stored little-endian, so in
	// byte 7; the variant is the two high bits of byte 8.
	g[7] = g[7]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return g
}
