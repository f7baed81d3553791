package exportname_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gonbd/gonbd/filters/exportname"
	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// multiExport is a plugin layer with three exports, "a" the default and "secret" one
// the filter may have to hide, whose handles describe themselves.
type multiExport struct{ server.PassThrough }

func newMultiExport() multiExport {
	return multiExport{server.PassThrough{Next: servertest.NewDisk(1 << 20).Layer()}}
}

func (multiExport) ListExports(context.Context, bool) ([]server.Export, error) {
	return []server.Export{{Name: "a", Description: "plugin's a"}, {Name: "b"}, {Name: "secret", Description: "plugin's secret"}}, nil
}

func (multiExport) DefaultExport(context.Context, bool) (string, error) { return "a", nil }

func (m multiExport) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := m.Next.Open(ctx, req)
	return describedHandle{server.PassThroughHandle{Next: h}, req.ExportName}, err
}

type describedHandle struct {
	server.PassThroughHandle
	name string
}

func (h describedHandle) ExportDescription(context.Context) (string, error) {
	return "plugin's " + h.name, nil
}

// stackOver makes the filter from "key=value" parameters in front of next, as the
// command line would, and fails the test if a parameter is left unused.
func stackOver(t *testing.T, next server.Layer, params ...string) server.Layer {
	t.Helper()
	var list []server.Param
	for _, kv := range params {
		key, value, _ := strings.Cut(kv, "=")
		list = append(list, server.Param{Key: key, Value: value})
	}
	p := server.NewParams(list, nil)
	l, err := exportname.Spec().New(p, next)
	if err != nil {
		t.Fatal(err)
	}
	if unused := p.Unused(); len(unused) != 0 {
		t.Fatalf("unused parameters %v", unused)
	}
	return l
}

func ex(name, desc string) server.Export { return server.Export{Name: name, Description: desc} }

func TestListModes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		opts exportname.Options
		want []server.Export
	}{
		{exportname.Options{}, []server.Export{ex("a", "plugin's a"), ex("b", ""), ex("secret", "plugin's secret")}},
		{exportname.Options{List: exportname.ListEmpty}, []server.Export{}},
		{exportname.Options{List: exportname.ListDefaultOnly}, []server.Export{ex("a", "")}},
		{exportname.Options{List: exportname.ListDefaultOnly, DefaultExport: "b"}, []server.Export{ex("b", "")}},
		{exportname.Options{List: exportname.ListExplicit, Exports: []string{"x", "b"}}, []server.Export{ex("x", ""), ex("b", "")}},
		{exportname.Options{DescMode: exportname.DescNone}, []server.Export{ex("a", ""), ex("b", ""), ex("secret", "")}},
		{exportname.Options{List: exportname.ListExplicit, Exports: []string{"x"}, DescMode: exportname.DescFixed, Desc: "fixed"},
			[]server.Export{ex("x", "fixed")}},
		{exportname.Options{List: exportname.ListExplicit, Exports: []string{"x;y"}, DescMode: exportname.DescScript, Desc: `echo "[$name]"; echo`},
			[]server.Export{ex("x;y", "[x;y]")}},
	} {
		got, err := exportname.New(newMultiExport(), tc.opts).ListExports(ctx, false)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%+v: ListExports = %v, %v; want %v", tc.opts, got, err, tc.want)
		}
	}
	_, err := exportname.New(newMultiExport(), exportname.Options{List: exportname.ListError}).ListExports(ctx, false)
	if !errors.Is(err, syscall.EPERM) {
		t.Errorf("exportname-list=error: %v", err)
	}
}

func TestStrictAndDefault(t *testing.T) {
	ctx := context.Background()
	l := exportname.New(newMultiExport(), exportname.Options{DefaultExport: "b", Strict: true, Exports: []string{"b"},
		DescMode: exportname.DescFixed, Desc: "one of mine"})
	if name, err := l.DefaultExport(ctx, false); err != nil || name != "b" {
		t.Errorf("DefaultExport = %q, %v; want b", name, err)
	}
	if _, err := l.Open(ctx, server.OpenRequest{ExportName: "secret"}); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("opening an export not allowed: %v, want ENOENT", err)
	}
	h, err := l.Open(ctx, server.OpenRequest{ExportName: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if desc, err := h.ExportDescription(ctx); err != nil || desc != "one of mine" {
		t.Errorf("ExportDescription = %q, %v", desc, err)
	}
}

func TestBadParameters(t *testing.T) {
	spec := servertest.NewDisk(4096).Spec()
	for _, tc := range []struct{ param, want string }{
		{"exportname-list=all", "exportname-list=all: unknown mode"},
		{"exportdesc=fancy", "exportdesc=fancy: unknown mode"},
		{"exportname-strict=maybe", "exportname-strict=maybe: could not parse boolean"},
	} {
		_, err := servertest.Stack(spec, []server.FilterSpec{exportname.Spec()}, tc.param)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.param, err, tc.want)
		}
	}
}

// listed runs nbdinfo --list --json and returns the names and descriptions it shows.
func listed(t *testing.T, uri string) []server.Export {
	t.Helper()
	r := servertest.MustRun(t, "nbdinfo", "--list", "--json", uri)
	var out struct {
		Exports []struct {
			Name        string `json:"export-name"`
			Description string `json:"description"`
		} `json:"exports"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("nbdinfo --list --json: %v\n%s", err, r.Stdout)
	}
	exports := []server.Export{}
	for _, e := range out.Exports {
		exports = append(exports, server.Export{Name: e.Name, Description: e.Description})
	}
	return exports
}

func TestEndToEnd(t *testing.T) {
	servertest.EndToEnd(t, "nbdinfo", "nbdsh")
	serve := func(params ...string) *servertest.Server {
		t.Helper()
		return servertest.Start(t, stackOver(t, newMultiExport(), params...), server.Options{})
	}
	s := serve("exportname-list=explicit", "exportname-strict=true", "exportname=b", "exportname=a",
		"default-export=b", "exportdesc=script:echo \"this is $name\"")
	if got, want := listed(t, s.URI()), []server.Export{ex("b", "this is b"), ex("a", "this is a")}; !slices.Equal(got, want) {
		t.Errorf("nbdinfo --list: %v, want %v", got, want)
	}
	// The default export is b, described as b by the script.
	if r := servertest.MustRun(t, "nbdinfo", s.URI()); !strings.Contains(r.Stdout, "this is b") {
		t.Errorf("nbdinfo on the default export:\n%s\nwant the description of b", r.Stdout)
	}
	servertest.Nbdsh(t, s.ExportURI("a"), "assert h.get_size() == 1 << 20")
	if r := servertest.Run(t, "nbdinfo", s.ExportURI("secret")); r.Code == 0 || strings.Contains(r.Stdout, "plugin's") {
		t.Errorf("a client opened the hidden export: %s", r)
	}

	s = serve("exportname-list=defaultonly", "exportdesc=none")
	if got, want := listed(t, s.URI()), []server.Export{ex("a", "")}; !slices.Equal(got, want) {
		t.Errorf("nbdinfo --list: %v, want %v", got, want)
	}
	s = serve("exportname-list=empty")
	if got := listed(t, s.URI()); len(got) != 0 {
		t.Errorf("nbdinfo --list: %v, want nothing", got)
	}
	s = serve("exportname-list=error")
	if r := servertest.Run(t, "nbdinfo", "--list", s.URI()); r.Code == 0 || strings.Contains(r.Stdout, "secret") {
		t.Errorf("nbdinfo --list under exportname-list=error: %s", r)
	}
	s = serve()
	if got := listed(t, s.URI()); len(got) != 3 || got[2] != (server.Export{Name: "secret", Description: "plugin's secret"}) {
		t.Errorf("nbdinfo --list keeping the plugin's: %v", got)
	}
}
