package data

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestEvaluate checks the contents of small disks, including what gonbd accepts beyond
// nbdkit 1.32 (C's octal and \u escapes; a slice of a script that starts past 0
// without reading the script to its end). What nbdkit also accepts is compared with
// nbdkit itself in TestE2ESameAsNbdkit.
func TestEvaluate(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{`1 2 3`}, "\x01\x02\x03"},
		{[]string{`"\0\7\101\1012\377"`}, "\x00\x07AA2\xff"},
		{[]string{`"\u00e9\u20ac"`}, "é€"},
		{[]string{`<(yes)[2:7]`}, "y\ny\ny"},
		{[]string{`<(printf abc; exit 1)[1:2]`}, "b"},
		{[]string{`<(printf 0123456789; sleep 60)[3:5]`}, "34"},
		{[]string{`(1 2 3)*3[2:7]`}, "\x03\x01\x02\x03\x01"},
		{[]string{`@3 @-3 @+1 1`, `size=4`}, "\x00\x01\x00\x00"},
		{[]string{`"abc" -> \s ( \s -> \t \t \s )[1:5]`}, "bcab"},
		{[]string{`base64=aGVs bG8=`}, "hello"},
		{[]string{`raw=@0 "not parsed"`}, `@0 "not parsed"`},
		{[]string{`$v`, `v=$w*2`, `w="ab"`}, "abab"},
	}
	for _, tt := range tests {
		got := mustEvaluate(t, t.TempDir(), tt.args...)
		if string(got) != tt.want {
			t.Errorf("%q: contents %q, want %q", tt.args, got, tt.want)
		}
	}
}

// TestEvaluateSparse checks that large, mostly empty disks cost memory only for what
// they hold, and that pages of zeroes are not made at all.
func TestEvaluateSparse(t *testing.T) {
	p, err := evaluate(t, "", `(1 @0x40000000)*100 0*0x40000000 (0 0 0 0)*1000000`)
	if err != nil {
		t.Fatal(err)
	}
	const want = 101<<30 + 4000000
	if p.size != want {
		t.Fatalf("size %d, want %d", p.size, want)
	}
	if n := p.store.(*sparseStore).pages(); n != 100 {
		t.Fatalf("%d pages, want 100: one per repetition of the 1", n)
	}
	b := make([]byte, 2)
	for i := range int64(100) {
		p.store.readAt(b, i<<30)
		if b[0] != 1 || b[1] != 0 {
			t.Fatalf("bytes at %d GiB are %x, want 0100", i, b)
		}
	}
}

// TestEvaluateRandomSectors checks the manual's example of one random sector repeated.
func TestEvaluateRandomSectors(t *testing.T) {
	got := mustEvaluate(t, "", `</dev/urandom[:512]*16`)
	if len(got) != 16*512 {
		t.Fatalf("size %d, want %d", len(got), 16*512)
	}
	if isZero(got[:512]) {
		t.Fatal("the random sector is all zeroes")
	}
	for i := 512; i < len(got); i += 512 {
		if !bytes.Equal(got[i:i+512], got[:512]) {
			t.Fatalf("sector %d differs from sector 0", i/512)
		}
	}
}

// TestEvaluateTooLarge checks that data reaching past 2⁶³-1 bytes is refused, where
// nbdkit's arithmetic would overflow.
func TestEvaluateTooLarge(t *testing.T) {
	for _, data := range []string{
		`@9223372036854775807 1`,
		`@9223372036854775807 @+1`,
		`@9223372036854775807 @^2`,
		`(1 2)*4611686018427387904`,
		`@4611686018427387904 (@4611686018427387904)`,
		`(@4611686018427387904)*2`,
	} {
		_, err := evaluate(t, "", data)
		if !errors.Is(err, errTooLarge) || !errorIs(err, "data parameter at offset") {
			t.Errorf("%q: error %v, want it to say where the data grows too large", data, err)
		}
	}
}

// TestEvaluateRefusesNbdkitBugs checks that data for which nbdkit 1.32 serves something
// other than what its manual says is refused with a clear error, rather than served
// either way: a [:] or [0:] slice of a script reads nothing in nbdkit.
func TestEvaluateRefusesNbdkitBugs(t *testing.T) {
	for _, data := range []string{`<(printf xyz)[:]`, `1 (<(printf xyz))[0:]`, `$v`} {
		_, err := evaluate(t, "", data, "v=( <(printf xyz) )*1[:]")
		if !errorIs(err, "of <(SCRIPT) reads nothing in nbdkit 1.32") {
			t.Errorf("%q: error %v, want the slice refused", data, err)
		}
	}
	// Through a name nbdkit evaluates the whole script, and so does gonbd.
	if got := mustEvaluate(t, "", `<(printf xyz) -> \s \s[:]`); string(got) != "xyz" {
		t.Errorf("a [:] slice of a named script is %q, want %q", got, "xyz")
	}
}

// TestEvaluateFiles checks file names relative to Options.Dir, and the errors for
// files that cannot be read.
func TestEvaluateFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := mustEvaluate(t, dir, `<f 0x20 <`+filepath.Join(dir, "f")+`[1:3]`); string(got) != "file il" {
		t.Errorf("contents %q, want %q", got, "file il")
	}
	_, err := evaluate(t, dir, `1 <missing`)
	if !errors.Is(err, fs.ErrNotExist) || !errorIs(err, "at offset 2", "<missing") {
		t.Errorf("a missing file gave %v, want fs.ErrNotExist at offset 2", err)
	}
}

// TestEvaluateScripts checks the environment scripts run in, and their failures.
func TestEvaluateScripts(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("scripts need /bin/sh")
	}
	dir := t.TempDir()
	if got := mustEvaluate(t, dir, `<(pwd)`); string(got) != dir+"\n" {
		t.Errorf("the script ran in %q, want %q", got, dir+"\n")
	}
	_, err := evaluate(t, dir, `( 1 <(exit 7) )`)
	if !errorIs(err, "at offset 4", "<(SCRIPT) failed: exit status 7") {
		t.Errorf("a failing script gave %v", err)
	}
	var stderr bytes.Buffer
	p, err := New(Options{Data: `<(echo out; echo err >&2)`, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	if got := readyContents(t, p); string(got) != "out\n" || stderr.String() != "err\n" {
		t.Errorf("contents %q and standard error %q, want \"out\\n\" and \"err\\n\"", got, stderr.String())
	}
}

// TestEvaluateCancel checks that cancelling GetReady's context stops a script that
// would run for long, and the evaluation with it.
func TestEvaluateCancel(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("scripts need /bin/sh")
	}
	p, err := New(Options{Data: `1 <(sleep 60; echo late) 2`})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = p.GetReady(ctx)
	if err == nil || ctx.Err() == nil {
		t.Fatalf("GetReady returned %v before its context ended", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Fatalf("GetReady took %v to notice its context ended", elapsed)
	}
	// Infinite output is stopped too.
	p, err = New(Options{Data: `</dev/zero`})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := p.GetReady(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("reading /dev/zero for ever gave %v, want the context's deadline", err)
	}
}
