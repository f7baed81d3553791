package client_test

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/protocol/client"
)

func TestParseURI(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    client.URI
		network string
		address string
		// canonical is what String gives back when it differs from in.
		canonical string
	}{
		// The examples of the specification.
		{in: "nbd://example.com/disk", want: client.URI{Scheme: "nbd", Host: "example.com", Export: "disk"},
			network: "tcp", address: "example.com:10809"},
		{in: "nbd+unix:///disk?socket=sock", want: client.URI{Scheme: "nbd+unix", Export: "disk", Socket: "sock"},
			network: "unix", address: "sock"},
		{in: "nbd://example.com/", want: client.URI{Scheme: "nbd", Host: "example.com"},
			network: "tcp", address: "example.com:10809", canonical: "nbd://example.com"},
		{in: "nbd://example.com", want: client.URI{Scheme: "nbd", Host: "example.com"},
			network: "tcp", address: "example.com:10809"},
		{in: "nbd://example.com//disk", want: client.URI{Scheme: "nbd", Host: "example.com", Export: "/disk"},
			network: "tcp", address: "example.com:10809"},
		{in: "nbd://example.com/hello%20world", want: client.URI{Scheme: "nbd", Host: "example.com", Export: "hello world"},
			network: "tcp", address: "example.com:10809"},
		{in: "nbd+unix:///?socket=%00/abstract", want: client.URI{Scheme: "nbd+unix", Socket: "\x00/abstract"},
			network: "unix", address: "@/abstract"},

		// Ports, IPv6, users, TLS parameters, vsock.
		{in: "nbd://127.0.0.1:10810/x", want: client.URI{Scheme: "nbd", Host: "127.0.0.1", Port: "10810", Export: "x"},
			network: "tcp", address: "127.0.0.1:10810"},
		{in: "nbds://alice@[2001:db8::1]:10811/x?tls-hostname=disk.example.com&tls-verify-peer=0",
			want: client.URI{Scheme: "nbds", User: "alice", Host: "2001:db8::1", Port: "10811", Export: "x",
				Params: url.Values{"tls-hostname": {"disk.example.com"}, "tls-verify-peer": {"0"}}},
			network: "tcp", address: "[2001:db8::1]:10811"},
		{in: "nbds+unix:///e?socket=/run/nbd.sock&tls-certificates=/etc/pki/nbd&tls-type=x509",
			want: client.URI{Scheme: "nbds+unix", Export: "e", Socket: "/run/nbd.sock",
				Params: url.Values{"tls-certificates": {"/etc/pki/nbd"}, "tls-type": {"x509"}}},
			network: "unix", address: "/run/nbd.sock"},
		{in: "nbd://h/x?x-experiment=1", want: client.URI{Scheme: "nbd", Host: "h", Export: "x", Params: url.Values{"x-experiment": {"1"}}},
			network: "tcp", address: "h:10809"},
		{in: "nbd+vsock://2:10809/export", want: client.URI{Scheme: "nbd+vsock", Host: "2", Port: "10809", Export: "export"},
			network: "vsock", address: "2:10809"},
		{in: "nbd+vsock://3/e", want: client.URI{Scheme: "nbd+vsock", Host: "3", Export: "e"},
			network: "vsock", address: "3:10809"},
		{in: "NBD://example.com/%41", want: client.URI{Scheme: "nbd", Host: "example.com", Export: "A"},
			network: "tcp", address: "example.com:10809", canonical: "nbd://example.com/A"},
		{in: "nbd+unix:///a%3Fb%23c%25?socket=s%20p%26q", want: client.URI{Scheme: "nbd+unix", Export: "a?b#c%", Socket: "s p&q"},
			network: "unix", address: "s p&q", canonical: "nbd+unix:///a%3Fb%23c%25?socket=s%20p%26q"},
	} {
		u, err := client.ParseURI(tc.in)
		if err != nil {
			t.Errorf("ParseURI(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(*u, tc.want) {
			t.Errorf("ParseURI(%q) =\n %+v, want\n %+v", tc.in, *u, tc.want)
		}
		if u.Network() != tc.network || u.Address() != tc.address {
			t.Errorf("ParseURI(%q): network %q address %q, want %q %q", tc.in, u.Network(), u.Address(), tc.network, tc.address)
		}
		if u.TLS() != strings.HasPrefix(u.Scheme, "nbds") {
			t.Errorf("ParseURI(%q).TLS() = %v", tc.in, u.TLS())
		}
		want := tc.in
		if tc.canonical != "" {
			want = tc.canonical
		}
		s := u.String()
		if s != want {
			t.Errorf("ParseURI(%q).String() = %q, want %q", tc.in, s, want)
		}
		if again, err := client.ParseURI(s); err != nil || !reflect.DeepEqual(again, u) {
			t.Errorf("ParseURI(%q) = %+v, %v; want %+v", s, again, err, u)
		}
	}
}

func TestParseURIErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"example.com/disk",                 // no scheme
		"http://example.com/disk",          // not NBD
		"nbd:disk",                         // opaque
		"nbd:///disk",                      // TCP without a host
		"nbd://example.com:0/",             // port 0
		"nbd://example.com:65536/",         // port out of range
		"nbd://example.com:http/",          // port not a number
		"nbd+unix:///disk",                 // no socket
		"nbd+unix://host/disk?socket=s",    // an authority on a Unix socket
		"nbd://example.com/disk?socket=s",  // a socket on TCP
		"nbd://example.com/a%00b",          // NUL in the export name
		"nbd://example.com/disk?unknown=1", // a parameter nobody knows
		"nbd://example.com/disk?tls-verify-peer=yes",
		"nbd+unix:///disk?socket=a&socket=b", // twice
		"nbd://user:secret@example.com/disk", // a password
		"nbd://example.com/disk#part",        // a fragment
		"nbd+vsock://host/disk",              // a CID must be a number
		"nbd+vsock://2:port/disk",
		"nbd://example.com/%zz",               // bad escape
		"nbd://example.com/disk?tls-type=%zz", // bad escape in the query
	} {
		if u, err := client.ParseURI(in); err == nil {
			t.Errorf("ParseURI(%q) = %+v, want an error", in, u)
		}
	}
}
