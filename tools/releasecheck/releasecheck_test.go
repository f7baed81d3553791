package releasecheck

import (
	"strings"
	"testing"
)

func TestForbiddenInSum(t *testing.T) {
	sum := []byte(`github.com/gonbd/gonbd/server v0.1.0 h1:abc=
golang.org/x/sys v0.30.0 h1:def=
golang.org/x/crypto v0.31.0/go.mod h1:ghi=
golang.org/x/crypto/x509roots/fallback v0.0.1 h1:jkl=
golang.org/x/cryptography v1.0.0 h1:notasubmodule=
github.com/klauspost/compress v1.17.0/go.mod h1:mno=
github.com/klauspost/compress v1.17.0 h1:pqr=
`)
	got := strings.Join(ForbiddenInSum(sum, DefaultForbidden), " ")
	want := "golang.org/x/crypto golang.org/x/crypto/x509roots/fallback"
	if got != want {
		t.Errorf("ForbiddenInSum = %s, want %s", got, want)
	}
	if bad := ForbiddenInSum([]byte("golang.org/x/sys v0.30.0 h1:def=\n"), DefaultForbidden); len(bad) != 0 {
		t.Errorf("ForbiddenInSum of a clean go.sum = %v", bad)
	}
}

// TestUnexpectedInSum checks the allowlist: the memory plugin's zstd allocator
// brings klauspost/compress, the server x/sys, and nothing else may come.
func TestUnexpectedInSum(t *testing.T) {
	sum := []byte(`github.com/gonbd/gonbd/server v0.1.0 h1:abc=
github.com/gonbd/gonbd/plugins/memory v0.1.0/go.mod h1:abc=
golang.org/x/sys v0.41.0 h1:def=
golang.org/x/sys v0.41.0/go.mod h1:def=
github.com/klauspost/compress v1.19.2 h1:pqr=
github.com/klauspost/compress v1.19.2/go.mod h1:mno=
`)
	if extra := UnexpectedInSum(sum, DefaultAllowed); len(extra) != 0 {
		t.Errorf("UnexpectedInSum of the expected go.sum = %v", extra)
	}
	sum = append(sum, `github.com/klauspost/compress/s2 v1.0.0 h1:stu=
github.com/ulikunitz/xz v0.5.17 h1:vwx=
github.com/ulikunitz/xz v0.5.17/go.mod h1:yz=
golang.org/x/sysfoo v1.0.0 h1:abc=
`...)
	got := strings.Join(UnexpectedInSum(sum, DefaultAllowed), " ")
	want := "github.com/klauspost/compress/s2 github.com/ulikunitz/xz golang.org/x/sysfoo"
	if got != want {
		t.Errorf("UnexpectedInSum = %s, want %s", got, want)
	}
}

func TestThirdPartyTemplate(t *testing.T) {
	// The template is built only by a release check; make sure at least
	// that it is the main package of a program using both modules.
	src := string(thirdPartyMain)
	for _, s := range []string{"package main", `"github.com/gonbd/gonbd/server"`, `"github.com/gonbd/gonbd/plugins/memory"`, "func main()"} {
		if !strings.Contains(src, s) {
			t.Errorf("testdata/thirdparty/main.go.txt lacks %s", s)
		}
	}
}
