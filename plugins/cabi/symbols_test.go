//go:build cgo && linux

package cabi

import (
	"debug/elf"
	"os"
	"regexp"
	"testing"
)

// TestEveryHeaderFunctionIsExported checks that every function nbdkit's plugin
// headers declare is in this executable's dynamic symbol table, where dlopen'ed
// plugins find it (the package links with -rdynamic).
func TestEveryHeaderFunctionIsExported(t *testing.T) {
	var declared []string
	decl := regexp.MustCompile(`NBDKIT_EXTERN_DECL\s*\(\s*[^,]+,\s*(nbdkit_\w+)`)
	for _, h := range []string{"/usr/include/nbdkit-common.h", "/usr/include/nbdkit-plugin.h"} {
		src, err := os.ReadFile(h)
		if err != nil {
			t.Skipf("nbdkit's headers are not installed: %v", err)
		}
		for _, m := range decl.FindAllSubmatch(src, -1) {
			declared = append(declared, string(m[1]))
		}
	}
	if len(declared) < 30 {
		t.Fatalf("found only %d declarations in nbdkit's headers: %q", len(declared), declared)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	exported := make(map[string]bool)
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF {
			exported[s.Name] = true
		}
	}
	for _, name := range declared {
		if !exported[name] {
			t.Errorf("%s is declared by nbdkit's headers but not exported", name)
		}
	}
}
