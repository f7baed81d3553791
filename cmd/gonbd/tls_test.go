package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

func TestTLSCertificateDirs(t *testing.T) {
	for _, tc := range []struct {
		c    config
		euid int
		env  []string
		want []string
	}{
		{config{tlsCertDir: "/certs"}, 0, nil, []string{"/certs"}},
		{config{}, 0, []string{"HOME=/root"}, []string{"/etc/pki/nbdkit"}},
		{config{}, 1000, []string{"HOME=/home/u"}, []string{"/home/u/.pki/nbdkit", "/home/u/.config/pki/nbdkit"}},
		{config{}, 1000, nil, nil},
	} {
		if got := tc.c.tlsCertificateDirs(tc.euid, tc.env); !equalStrings(got, tc.want) {
			t.Errorf("%+v as %d: %q, want %q", tc.c, tc.euid, got, tc.want)
		}
	}
}

func equalStrings(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

func TestSetupTLS(t *testing.T) {
	files := servertest.NewTLSFiles(t)
	home := t.TempDir()
	defaultDir := filepath.Join(home, ".config", "pki", "nbdkit")
	if err := os.MkdirAll(filepath.Dir(defaultDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(files.ServerDir, defaultDir); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "none")
	for _, tc := range []struct {
		name     string
		args     []string
		env      []string
		wantMode server.TLSMode
		wantTLS  string // c.tls afterwards, for $tls
		wantWarn string
		wantErr  string
	}{
		{"no option, no certificates", nil, []string{"HOME=" + t.TempDir()}, server.TLSOff, "off", "", ""},
		{"no option, certificates in a default directory", nil, []string{"HOME=" + home}, server.TLSOn, "on", "", ""},
		{"--tls-certificates alone", []string{"--tls-certificates=" + files.ServerDir}, nil, server.TLSOn, "on", "", ""},
		{"--tls=off", []string{"--tls=off", "--tls-certificates=" + files.ServerDir}, nil, server.TLSOff, "off", "", ""},
		{"--tls=require", []string{"--tls=require", "--tls-certificates=" + files.ServerDir}, nil, server.TLSRequire, "require", "", ""},
		{"--tls=require, default directory", []string{"--tls=require"}, []string{"HOME=" + home}, server.TLSRequire, "require", "", ""},
		{"--tls=on without certificates", []string{"--tls=on", "--tls-certificates=" + missing}, nil, server.TLSOff, "off", "TLS is disabled", ""},
		{"--tls=require without certificates", []string{"--tls=require", "--tls-certificates=" + missing}, nil, 0, "", "", "--tls=require, but the TLS certificates could not be loaded"},
		{"--tls-psk", []string{"--tls-psk=/keys.psk"}, nil, 0, "", "", "crypto/tls has no PSK"},
	} {
		c, _, err := parseCommandLine(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		var warn strings.Builder
		err = c.setupTLS(1000, tc.env, &warn)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.wantErr)
			}
			continue
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if c.opts.TLS != tc.wantMode || c.tls != tc.wantTLS || (c.opts.TLSConfig != nil) != (tc.wantMode != server.TLSOff) {
			t.Errorf("%s: mode %v, $tls %q, config %v; want %v, %q", tc.name, c.opts.TLS, c.tls, c.opts.TLSConfig != nil, tc.wantMode, tc.wantTLS)
		}
		if !strings.Contains(warn.String(), tc.wantWarn) || (tc.wantWarn == "") != (warn.Len() == 0) {
			t.Errorf("%s: warned %q, want %q", tc.name, warn.String(), tc.wantWarn)
		}
	}
}

func TestTLSURI(t *testing.T) {
	for _, tc := range []struct {
		uri  string
		mode server.TLSMode
		want string
	}{
		{"nbd://localhost:10809", server.TLSRequire, "nbds://localhost:10809"},
		{"nbd+unix:///disk?socket=/s", server.TLSRequire, "nbds+unix:///disk?socket=/s"},
		{"nbd+vsock://1:10809", server.TLSRequire, "nbds+vsock://1:10809"},
		{"nbd://localhost:10809", server.TLSOn, "nbd://localhost:10809"},
		{"nbd+unix:///?socket=/s", server.TLSOff, "nbd+unix:///?socket=/s"},
		{"", server.TLSRequire, ""},
	} {
		if got := tlsURI(tc.uri, tc.mode); got != tc.want {
			t.Errorf("tlsURI(%q, %v) = %q, want %q", tc.uri, tc.mode, got, tc.want)
		}
	}
}
