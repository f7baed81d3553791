package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestModuleLicense(t *testing.T) {
	mit := "Permission is hereby granted, free of charge, to any person obtaining a copy of this software.\n" +
		"The above copyright notice and this permission notice shall be included in all copies or substantial portions of the Software.\n"
	for _, tc := range []struct {
		name    string
		files   map[string]string
		want    string
		wantErr string
	}{
		{"MIT", map[string]string{"LICENSE.md": mit, "README": "GNU General Public License"}, "MIT", ""},
		{"none", map[string]string{"README": mit}, "", "no LICENSE"},
		{"GPL", map[string]string{"COPYING": "GNU GENERAL PUBLIC LICENSE\n"}, "", "COPYING: "},
		{"one of two unknown", map[string]string{"LICENSE": mit, "LICENSE-OTHER": "do what you like"}, "", "LICENSE-OTHER: "},
	} {
		dir := t.TempDir()
		for name, data := range tc.files {
			os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644)
		}
		got, err := moduleLicense(context.Background(), dir, &dep{Path: "example.com/m", Version: "v1.0.0", Dir: dir})
		if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: moduleLicense = %q, %v; want %q, error containing %q", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}
