package apitest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonbd/gonbd/protocol"
	"github.com/gonbd/gonbd/server"
)

// build makes the stack "apiskip in front of apitest" from command-line parameters,
// the way the gonbd command does.
func build(t *testing.T, list ...server.Param) (server.Layer, *Plugin) {
	t.Helper()
	params := server.NewParams(list, slog.New(slog.DiscardHandler))
	late := &struct{ server.PassThrough }{}
	top, err := FilterSpec.New(params, late)
	if err != nil {
		t.Fatalf("%s: %v", FilterSpec.Name, err)
	}
	params = params.Rest()
	plugin, err := PluginSpec.New(params)
	if err != nil {
		t.Fatalf("%s: %v", PluginSpec.Name, err)
	}
	if unused := params.Unused(); len(unused) > 0 {
		t.Fatalf("unknown parameters %v", unused)
	}
	late.Next = server.PluginLayer(PluginSpec.Name, plugin)
	return top, plugin.(*Plugin)
}

func TestLayer(t *testing.T) {
	ctx := context.Background()
	l, plugin := build(t,
		server.Param{Key: "size", Value: "64k"},
		server.Param{Key: "fill", Value: "0x61"},
		server.Param{Key: "export", Value: "a"},
		server.Param{Key: "export", Value: "b"},
		server.Param{Key: "skip", Value: "4k"},
		server.Param{Key: "fua", Value: "on"},
		server.Param{Key: "seed", Value: "-7"},
	)

	if l.Name() != "apitest" {
		t.Errorf("Name() = %q", l.Name())
	}
	if tm := l.ThreadModel(); tm != server.SerializeAllRequests {
		t.Errorf("ThreadModel() = %v", tm)
	}
	if err := l.GetReady(ctx); err != nil {
		t.Fatal(err)
	}
	info := server.ConnInfo{ID: 1, Local: &net.UnixAddr{Name: "/s", Net: "unix"}, Remote: &net.UnixAddr{Net: "unix"}, TLS: true}
	if err := l.Preconnect(ctx, info); err != nil {
		t.Fatal(err)
	}
	if err := l.Preconnect(ctx, server.ConnInfo{ExportName: "forbidden"}); server.ErrnoOf(err) != protocol.EPERM {
		t.Errorf("Preconnect(forbidden) = %v", err)
	}
	if exports, err := l.ListExports(ctx, false); err != nil || len(exports) != 2 || exports[1] != (server.Export{Name: "b", Description: "export b"}) {
		t.Errorf("ListExports = %v, %v", exports, err)
	}
	name, err := l.DefaultExport(ctx, false)
	if err != nil || name != "a" {
		t.Errorf("DefaultExport = %q, %v", name, err)
	}

	info.ExportName = name
	h, err := l.Open(server.WithConnInfo(ctx, info), server.OpenRequest{ExportName: name})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	if size, err := h.Size(ctx); err != nil || size != 60<<10 {
		t.Errorf("Size() = %d, %v", size, err)
	}
	if bs, err := h.BlockSize(ctx); err != nil || bs.Minimum != 1 || bs.Preferred != 4096 || bs.Maximum != 0xffffffff {
		t.Errorf("BlockSize() = %+v, %v", bs, err)
	}
	if desc, err := h.ExportDescription(ctx); err != nil || desc != "apitest disk" {
		t.Errorf("ExportDescription() = %q, %v", desc, err)
	}
	caps, err := h.Capabilities(ctx)
	want := server.Capabilities{Write: true, Flush: true, Trim: true, Zero: true, FastZero: true,
		Extents: true, FUA: server.FUANative, MultiConn: true, Cache: server.CacheNative}
	if err != nil || caps != want {
		t.Errorf("Capabilities() = %+v, %v\nwant %+v", caps, err, want)
	}

	buf := make([]byte, 4)
	if err := h.ReadAt(ctx, buf, 0, 0); err != nil || string(buf) != "aaaa" {
		t.Errorf("ReadAt = %q, %v", buf, err)
	}
	if err := h.WriteAt(ctx, []byte("wxyz"), 0, server.FlagFUA); err != nil {
		t.Fatal(err)
	}
	if err := h.ReadAt(ctx, buf, 0, 0); err != nil || string(buf) != "wxyz" {
		t.Errorf("ReadAt after WriteAt = %q, %v", buf, err)
	}
	if err := h.Flush(ctx, 0); err != nil {
		t.Error(err)
	}
	if err := h.Trim(ctx, 4096, 4096, 0); err != nil {
		t.Error(err)
	}
	if err := h.Zero(ctx, 8192, 4096, server.FlagMayTrim); err != nil {
		t.Error(err)
	}
	if err := h.Zero(ctx, 0, 1, server.FlagFastZero); !errors.Is(err, syscall.ENOTSUP) {
		t.Errorf("fast Zero = %v, want ENOTSUP", err)
	}
	if err := h.Cache(ctx, 0, 4096, 0); err != nil {
		t.Error(err)
	}

	// After the skip, block 0 holds data, blocks 1 and 2 were trimmed and zeroed.
	e := server.NewExtentList(0, 16384)
	if err := h.Extents(ctx, 0, 16384, 0, e); err != nil {
		t.Fatal(err)
	}
	wantExtents := []server.Extent{
		{Offset: 0, Length: 4096, Type: server.ExtentData},
		{Offset: 4096, Length: 8192, Type: server.ExtentHole | server.ExtentZero},
		{Offset: 12288, Length: 4096, Type: server.ExtentData},
	}
	if !slices.Equal(e.Extents(), wantExtents) || e.Start() != 0 || e.End() != 16384 {
		t.Errorf("Extents = %v, want %v", e.Extents(), wantExtents)
	}
	e.Reset(0, 16384)
	if err := h.Extents(ctx, 0, 16384, server.FlagReqOne, e); err != nil || len(e.Extents()) != 1 {
		t.Errorf("Extents(ReqOne) = %v, %v", e.Extents(), err)
	}

	if err := h.Finalize(ctx); err != nil {
		t.Error(err)
	}
	if err := h.Close(ctx); err != nil {
		t.Error(err)
	}
	l.Cleanup(ctx)

	wantEvents := []string{"GetReady", "Preconnect 1 tls=true", "Preconnect 0 tls=false",
		`Open "a" readOnly=false conn=1`, "WriteAt FUA", "Flush", "Zero MayTrim", "Cache 4096+4096",
		"Close", "Cleanup"}
	if got := plugin.Events(); !slices.Equal(got, wantEvents) {
		t.Errorf("events:\n%q\nwant\n%q", got, wantEvents)
	}

	var dump bytes.Buffer
	var dumper server.PluginDumper = plugin
	dumper.DumpPlugin(&dump)
	if dump.String() != "apitest_seed=-7\n" {
		t.Errorf("DumpPlugin wrote %q", dump.String())
	}
}

func TestReadOnlyFilter(t *testing.T) {
	ctx := context.Background()
	l, _ := build(t, server.Param{Key: "size", Value: "8k"}, server.Param{Key: "readonly", Value: "yes"})
	h, err := l.Open(ctx, server.OpenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		t.Fatal(err)
	}
	caps, err := h.Capabilities(ctx)
	if err != nil || caps.Write || caps.FUA != server.FUANone || caps.Cache != server.CacheNative {
		t.Errorf("Capabilities() = %+v, %v", caps, err)
	}
	err = h.WriteAt(ctx, []byte{1}, 0, 0)
	var apiErr *server.Error
	if !errors.As(err, &apiErr) || apiErr.NBDErrno() != protocol.EPERM || !errors.Is(err, syscall.EROFS) {
		t.Errorf("WriteAt = %v, want EROFS", err)
	}
	if len(apiErr.Unwrap()) == 0 || apiErr.Error() == "" || apiErr.Err == nil || apiErr.Errno != syscall.EROFS {
		t.Errorf("Error fields: %+v", apiErr)
	}
}

// panicking panics in ReadAt, to check the PanicError type.
type panicking struct{ *Handle }

func (panicking) ReadAt(ctx context.Context, p []byte, off int64) error { panic("oops") }

type panickingPlugin struct{}

func (panickingPlugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	return panicking{&Handle{plugin: &Plugin{size: 512, disk: make([]byte, 512)}}}, nil
}

func TestPanic(t *testing.T) {
	ctx := context.Background()
	h, err := server.PluginLayer("panicking", panickingPlugin{}).Open(ctx, server.OpenRequest{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Prepare(ctx, true); err != nil {
		t.Fatal(err)
	}
	err = h.ReadAt(ctx, make([]byte, 1), 0, 0)
	var pe *server.PanicError
	if !errors.As(err, &pe) || pe.Value != "oops" || pe.Layer != "panicking" || pe.Op == "" || len(pe.Stack) == 0 {
		t.Fatalf("ReadAt = %v, want a PanicError", err)
	}
	if pe.NBDErrno() != protocol.EIO || pe.Unwrap() != nil {
		t.Errorf("PanicError: errno %v, unwraps to %v", pe.NBDErrno(), pe.Unwrap())
	}
}

func TestParsers(t *testing.T) {
	if n, err := server.ParseSize("1M"); err != nil || n != 1<<20 {
		t.Errorf("ParseSize = %d, %v", n, err)
	}
	if b, err := server.ParseBool("off"); err != nil || b {
		t.Errorf("ParseBool = %v, %v", b, err)
	}
	if n, err := server.ParseInt("-0x10", 32); err != nil || n != -16 {
		t.Errorf("ParseInt = %d, %v", n, err)
	}
	if n, err := server.ParseUint("010", 16); err != nil || n != 8 {
		t.Errorf("ParseUint = %d, %v", n, err)
	}
	if _, err := server.NewParams(nil, nil).Required("x"); err == nil || !strings.Contains(err.Error(), "x") {
		t.Errorf("Required = %v", err)
	}
}

// TestSignatures pins the signatures of the API's functions and methods: a change to
// any of them fails to compile here.
func TestSignatures(t *testing.T) {
	var (
		_ func(string, server.Plugin) server.Layer                                                         = server.PluginLayer
		_ func(int64, int64) *server.ExtentList                                                            = server.NewExtentList
		_ func(*server.ExtentList, int64, int64)                                                           = (*server.ExtentList).Reset
		_ func(*server.ExtentList, int64, int64, server.ExtentType) error                                  = (*server.ExtentList).Add
		_ func(*server.ExtentList) []server.Extent                                                         = (*server.ExtentList).Extents
		_ func(*server.ExtentList) int64                                                                   = (*server.ExtentList).Start
		_ func(*server.ExtentList) int64                                                                   = (*server.ExtentList).End
		_ func(syscall.Errno, string, ...any) error                                                        = server.Errorf
		_ func(error) protocol.Errno                                                                       = server.ErrnoOf
		_ func(*server.Error) string                                                                       = (*server.Error).Error
		_ func(*server.Error) []error                                                                      = (*server.Error).Unwrap
		_ func(*server.Error) protocol.Errno                                                               = (*server.Error).NBDErrno
		_ func(*server.PanicError) string                                                                  = (*server.PanicError).Error
		_ func(*server.PanicError) error                                                                   = (*server.PanicError).Unwrap
		_ func(*server.PanicError) protocol.Errno                                                          = (*server.PanicError).NBDErrno
		_ func(context.Context) (server.ConnInfo, bool)                                                    = server.ConnInfoFrom
		_ func(context.Context, server.ConnInfo) context.Context                                           = server.WithConnInfo
		_ func(context.Context) bool                                                                       = server.Shutdown
		_ func(context.Context, bool) bool                                                                 = server.Disconnect
		_ func(*server.Server) <-chan struct{}                                                             = (*server.Server).ShutdownRequested
		_ func(server.PluginSpec, []server.FilterSpec, []server.Param, *slog.Logger) (server.Layer, error) = server.NewStack
		_ func([]server.Param, *slog.Logger) *server.Params                                                = server.NewParams
		_ func(*server.Params, string) (string, bool)                                                      = (*server.Params).Lookup
		_ func(*server.Params, string) []string                                                            = (*server.Params).All
		_ func(*server.Params, string, string) string                                                      = (*server.Params).String
		_ func(*server.Params, string) (string, error)                                                     = (*server.Params).Required
		_ func(*server.Params, string, int64) (int64, error)                                               = (*server.Params).Size
		_ func(*server.Params, string, bool) (bool, error)                                                 = (*server.Params).Bool
		_ func(*server.Params, string, int64) (int64, error)                                               = (*server.Params).Int64
		_ func(*server.Params, string, uint32) (uint32, error)                                             = (*server.Params).Uint32
		_ func(*server.Params) []server.Param                                                              = (*server.Params).Unused
		_ func(*server.Params) []server.Param                                                              = (*server.Params).List
		_ func(*server.Params) *server.Params                                                              = (*server.Params).Rest
		_ func(string) (int64, error)                                                                      = server.ParseSize
		_ func(string) (bool, error)                                                                       = server.ParseBool
		_ func(string, int) (int64, error)                                                                 = server.ParseInt
		_ func(string, int) (uint64, error)                                                                = server.ParseUint
		_ func(*server.PluginSpec) func(*server.Params) (server.Plugin, error)                             = func(s *server.PluginSpec) func(*server.Params) (server.Plugin, error) { return s.New }
		_ func(*server.FilterSpec) func(*server.Params, server.Layer) (server.Layer, error)                = func(s *server.FilterSpec) func(*server.Params, server.Layer) (server.Layer, error) { return s.New }
	)
	// Interface methods, by method expression: a method's signature changing, or the
	// method going, fails here.
	type ctx = context.Context
	var (
		_ func(server.Plugin, ctx, server.OpenRequest) (server.Handle, error)              = server.Plugin.Open
		_ func(server.Handle, ctx) (int64, error)                                          = server.Handle.Size
		_ func(server.Handle, ctx, []byte, int64) error                                    = server.Handle.ReadAt
		_ func(server.Writer, ctx, []byte, int64, server.Flags) error                      = server.Writer.WriteAt
		_ func(server.Flusher, ctx, server.Flags) error                                    = server.Flusher.Flush
		_ func(server.Trimmer, ctx, int64, int64, server.Flags) error                      = server.Trimmer.Trim
		_ func(server.Zeroer, ctx, int64, int64, server.Flags) error                       = server.Zeroer.Zero
		_ func(server.Extenter, ctx, int64, int64, server.Flags, *server.ExtentList) error = server.Extenter.Extents
		_ func(server.Cacher, ctx, int64, int64, server.Flags) error                       = server.Cacher.Cache
		_ func(server.BlockSizer, ctx) (server.BlockSize, error)                           = server.BlockSizer.BlockSize
		_ func(server.Describer, ctx) (string, error)                                      = server.Describer.ExportDescription
		_ func(server.CapabilityOverrider, ctx, *server.Capabilities) error                = server.CapabilityOverrider.Capabilities
		_ func(server.ThreadModeler) server.ThreadModel                                    = server.ThreadModeler.ThreadModel
		_ func(server.Readier, ctx) error                                                  = server.Readier.GetReady
		_ func(server.Preconnecter, ctx, server.ConnInfo) error                            = server.Preconnecter.Preconnect
		_ func(server.ExportLister, ctx, bool) ([]server.Export, error)                    = server.ExportLister.ListExports
		_ func(server.DefaultExporter, ctx, bool) (string, error)                          = server.DefaultExporter.DefaultExport
		_ func(server.Cleaner, ctx)                                                        = server.Cleaner.Cleanup
		_ func(server.PluginDumper, io.Writer)                                             = server.PluginDumper.DumpPlugin

		_ func(server.Layer) string                                                           = server.Layer.Name
		_ func(server.Layer) server.ThreadModel                                               = server.Layer.ThreadModel
		_ func(server.Layer, ctx) error                                                       = server.Layer.GetReady
		_ func(server.Layer, ctx, server.ConnInfo) error                                      = server.Layer.Preconnect
		_ func(server.Layer, ctx, bool) ([]server.Export, error)                              = server.Layer.ListExports
		_ func(server.Layer, ctx, bool) (string, error)                                       = server.Layer.DefaultExport
		_ func(server.Layer, ctx, server.OpenRequest) (server.LayerHandle, error)             = server.Layer.Open
		_ func(server.Layer, ctx)                                                             = server.Layer.Cleanup
		_ func(server.LayerHandle, ctx, bool) error                                           = server.LayerHandle.Prepare
		_ func(server.LayerHandle, ctx) error                                                 = server.LayerHandle.Finalize
		_ func(server.LayerHandle, ctx) error                                                 = server.LayerHandle.Close
		_ func(server.LayerHandle, ctx) (int64, error)                                        = server.LayerHandle.Size
		_ func(server.LayerHandle, ctx) (server.BlockSize, error)                             = server.LayerHandle.BlockSize
		_ func(server.LayerHandle, ctx) (server.Capabilities, error)                          = server.LayerHandle.Capabilities
		_ func(server.LayerHandle, ctx) (string, error)                                       = server.LayerHandle.ExportDescription
		_ func(server.LayerHandle, ctx, []byte, int64, server.Flags) error                    = server.LayerHandle.ReadAt
		_ func(server.LayerHandle, ctx, []byte, int64, server.Flags) error                    = server.LayerHandle.WriteAt
		_ func(server.LayerHandle, ctx, server.Flags) error                                   = server.LayerHandle.Flush
		_ func(server.LayerHandle, ctx, int64, int64, server.Flags) error                     = server.LayerHandle.Trim
		_ func(server.LayerHandle, ctx, int64, int64, server.Flags) error                     = server.LayerHandle.Zero
		_ func(server.LayerHandle, ctx, int64, int64, server.Flags, *server.ExtentList) error = server.LayerHandle.Extents
		_ func(server.LayerHandle, ctx, int64, int64, server.Flags) error                     = server.LayerHandle.Cache
	)

	// Fields and constants a plugin reads or sets.
	_ = server.PluginSpec{Name: "", Version: "", Description: "", MagicConfigKey: "", ConfigHelp: ""}
	_ = server.FilterSpec{Name: "", Version: "", Description: "", ConfigHelp: ""}
	_ = server.Params{Logger: slog.Default()}
	_ = server.OpenRequest{ExportName: "", ReadOnly: false}
	_ = server.ConnInfo{ID: 0, Local: nil, Remote: nil, TLS: false, ExportName: "", Accepted: time.Time{}, Peer: &server.PeerCred{PID: 0, UID: 0, GID: 0, SecurityLabel: ""}, ReadOnly: false}
	_ = server.Error{Errno: 0, Err: nil}
	_ = server.PanicError{Layer: "", Op: "", Value: nil, Stack: nil}
	_ = server.Extent{Offset: 0, Length: 0, Type: server.ExtentData}
	_ = []server.Flags{server.FlagFUA, server.FlagMayTrim, server.FlagFastZero, server.FlagReqOne}
	_ = []server.ThreadModel{server.SerializeConnections, server.SerializeAllRequests, server.SerializeRequests, server.Parallel}
	_ = []server.FUAMode{server.FUANone, server.FUAEmulate, server.FUANative}
	_ = []server.CacheMode{server.CacheNone, server.CacheEmulate, server.CacheNative}
	_ = []server.ExtentType{server.ExtentHole, server.ExtentZero, server.ExtentData}
	_ = server.Capabilities{Write: true, Flush: true, Trim: true, Zero: true, FastZero: true, Extents: true,
		FUA: server.FUANone, MultiConn: true, Cache: server.CacheNone, Rotational: true}
	_ = server.BlockSize{Minimum: 1, Preferred: 4096, Maximum: 0xffffffff}
	_ = server.Export{Name: "", Description: ""}
	_ = server.Param{Key: "", Value: ""}
	_ = server.PassThrough{Next: nil}
	_ = server.PassThroughHandle{Next: nil}
}

// TestEmbeddingSignatures pins the API a Go program uses to run the server itself
// (docs/embedding.md): a change here breaks every embedder.
func TestEmbeddingSignatures(t *testing.T) {
	type ctx = context.Context
	var (
		_ func(ctx, server.Layer, server.Options) (*server.Server, error) = server.New
		_ func(*server.Server, ctx, net.Listener) error                   = (*server.Server).Serve
		_ func(*server.Server, ctx, net.Conn) error                       = (*server.Server).ServeConn
		_ func(*server.Server, ctx) error                                 = (*server.Server).Close
	)
	_ = server.Options{
		Logger: slog.Default(), Threads: 16, ReadOnly: false, Oldstyle: false, ExportName: "",
		NoStructuredReplies: false, NoMetaContexts: false, MaskHandshake: 0, MaskHandshakeSet: false,
		HandshakeTimeout: 0, MaxOptionLength: 0, MaxOptions: 0, MaxPayload: 0, MaxInFlightBytes: 0,
		Keepalive: false,
	}
}
