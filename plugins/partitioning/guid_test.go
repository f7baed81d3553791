package partitioning

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseGUIDMixedEndian(t *testing.T) {
	g, err := ParseGUID("0FC63DAF-8483-4772-8E79-3D69D8477DE4")
	if err != nil {
		t.Fatal(err)
	}
	// The bytes GPT stores for the Linux filesystem type, as nbdkit and sgdisk write it.
	want := []byte{0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4}
	if !bytes.Equal(g[:], want) {
		t.Errorf("stored as % x, want % x", g[:], want)
	}
	if g != linuxFilesystemGUID() {
		t.Error("linuxFilesystemGUID differs from the parsed text")
	}
	for _, text := range []string{"0fc63daf-8483-4772-8e79-3d69d8477de4", "{0FC63DAF-8483-4772-8E79-3D69D8477DE4}"} {
		if g2, err := ParseGUID(text); err != nil || g2 != g {
			t.Errorf("ParseGUID(%q) = %v, %v; want %v", text, g2, err, g)
		}
	}
	if s := g.String(); s != "0FC63DAF-8483-4772-8E79-3D69D8477DE4" {
		t.Errorf("String = %s", s)
	}
}

func TestParseGUIDRefusesBadText(t *testing.T) {
	for _, text := range []string{
		"",
		"xyz",
		"0FC63DAF-8483-4772-8E79-3D69D8477DE",   // short
		"0FC63DAF-8483-4772-8E79-3D69D8477DE40", // long
		"0FC63DAF84834772-8E79-3D69D8477DE4",
		"ZZC63DAF-8483-4772-8E79-3D69D8477DE4",
		"0FC63DAF-8483-4772-8E79-3D69-8477DE4",
		"{0FC63DAF-8483-4772-8E79-3D69D8477DE4",
	} {
		if g, err := ParseGUID(text); err == nil {
			t.Errorf("ParseGUID(%q) = %v, want an error", text, g)
		} else if !strings.Contains(err.Error(), "GUID") {
			t.Errorf("ParseGUID(%q): error %q does not say GUID", text, err)
		}
	}
}

func TestRandomGUIDIsVersion4(t *testing.T) {
	a, b := randomGUID(), randomGUID()
	if a == b {
		t.Fatal("two random GUIDs are equal")
	}
	s := a.String()
	if s[14] != '4' || !strings.ContainsRune("89AB", rune(s[19])) {
		t.Errorf("%s is not a version 4, RFC 4122 variant GUID", s)
	}
	if back, err := ParseGUID(s); err != nil || back != a {
		t.Errorf("round trip of %s: %v, %v", s, back, err)
	}
}
