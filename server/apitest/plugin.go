package apitest

import (
	"context"
	"fmt"
	"io"
	"sync"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// PluginSpec is the spec of a plugin serving a disk in memory, filled with a byte given
// on the command line. It implements every optional plugin interface, and its handle
// every optional handle interface.
var PluginSpec = server.PluginSpec{
	Name:           "apitest",
	Version:        "1.0.0",
	Description:    "a plugin using the whole plugin API",
	MagicConfigKey: "size",
	ConfigHelp:     "size=SIZE  the disk's size\nfill=N  the byte it starts filled with\nexport=NAME  an export name (repeatable)\nfua=BOOL  native FUA",
	New:            newPlugin,
}

// Plugin is the plugin PluginSpec makes.
type Plugin struct {
	size       int64
	fill       byte
	exports    []string
	nativeFUA  bool
	seed       int64
	descriptor string

	mu     sync.Mutex
	disk   []byte
	events []string // what happened, in order, for the tests
}

func newPlugin(p *server.Params) (server.Plugin, error) {
	size, err := p.Size("size", 1<<20)
	if err != nil {
		return nil, err
	}
	fill, err := p.Uint32("fill", 0)
	if err != nil {
		return nil, err
	}
	if fill > 255 {
		return nil, fmt.Errorf("fill=%d: not a byte", fill)
	}
	nativeFUA, err := p.Bool("fua", false)
	if err != nil {
		return nil, err
	}
	seed, err := p.Int64("seed", 0)
	if err != nil {
		return nil, err
	}
	descriptor := p.String("description", "apitest disk")
	if _, err := p.Required("size"); err != nil {
		return nil, err
	}
	if _, ok := p.Lookup("size"); !ok {
		return nil, fmt.Errorf("size vanished")
	}
	p.Logger.Info("apitest plugin made", "size", size, "params", len(p.List()))
	disk := make([]byte, size)
	for i := range disk {
		disk[i] = byte(fill)
	}
	return &Plugin{
		size: size, fill: byte(fill), exports: p.All("export"), nativeFUA: nativeFUA,
		seed: seed, disk: disk, descriptor: descriptor,
	}, nil
}

func (p *Plugin) event(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, fmt.Sprintf(format, args...))
}

// Events returns what happened to the plugin so far, in order.
func (p *Plugin) Events() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.events...)
}

// The optional plugin interfaces.
var (
	_ server.Plugin          = (*Plugin)(nil)
	_ server.ThreadModeler   = (*Plugin)(nil)
	_ server.Readier         = (*Plugin)(nil)
	_ server.Preconnecter    = (*Plugin)(nil)
	_ server.ExportLister    = (*Plugin)(nil)
	_ server.DefaultExporter = (*Plugin)(nil)
	_ server.Cleaner         = (*Plugin)(nil)
	_ server.PluginDumper    = (*Plugin)(nil)
)

func (p *Plugin) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	info, _ := server.ConnInfoFrom(ctx)
	p.event("Open %q readOnly=%v conn=%d", req.ExportName, req.ReadOnly, info.ID)
	return &Handle{plugin: p, export: req.ExportName}, nil
}

func (p *Plugin) ThreadModel() server.ThreadModel { return server.SerializeRequests }

func (p *Plugin) GetReady(ctx context.Context) error {
	p.event("GetReady")
	return nil
}

func (p *Plugin) Preconnect(ctx context.Context, info server.ConnInfo) error {
	p.event("Preconnect %d tls=%v", info.ID, info.TLS)
	if info.Local != nil && info.Remote != nil && info.Local.String() == info.Remote.String() {
		return server.Errorf(syscall.EPERM, "refusing a connection to itself")
	}
	if info.ExportName == "forbidden" {
		return server.Errorf(syscall.EPERM, "export %q is forbidden", info.ExportName)
	}
	return nil
}

func (p *Plugin) ListExports(ctx context.Context, readOnly bool) ([]server.Export, error) {
	var exports []server.Export
	for _, name := range p.exports {
		exports = append(exports, server.Export{Name: name, Description: "export " + name})
	}
	return exports, nil
}

func (p *Plugin) DefaultExport(ctx context.Context, readOnly bool) (string, error) {
	if len(p.exports) == 0 {
		return "", nil
	}
	return p.exports[0], nil
}

func (p *Plugin) Cleanup(ctx context.Context) { p.event("Cleanup") }

func (p *Plugin) DumpPlugin(w io.Writer) {
	fmt.Fprintf(w, "apitest_seed=%d\n", p.seed)
}

// Handle is a connection's handle. It implements every optional handle interface.
type Handle struct {
	plugin *Plugin
	export string
}

var (
	_ server.Handle              = (*Handle)(nil)
	_ server.Writer              = (*Handle)(nil)
	_ server.Flusher             = (*Handle)(nil)
	_ server.Trimmer             = (*Handle)(nil)
	_ server.Zeroer              = (*Handle)(nil)
	_ server.Extenter            = (*Handle)(nil)
	_ server.Cacher              = (*Handle)(nil)
	_ server.BlockSizer          = (*Handle)(nil)
	_ server.Describer           = (*Handle)(nil)
	_ server.CapabilityOverrider = (*Handle)(nil)
	_ io.Closer                  = (*Handle)(nil)
)

func (h *Handle) Size(ctx context.Context) (int64, error) { return h.plugin.size, nil }

func (h *Handle) ReadAt(ctx context.Context, p []byte, off int64) error {
	h.plugin.mu.Lock()
	defer h.plugin.mu.Unlock()
	copy(p, h.plugin.disk[off:])
	return nil
}

func (h *Handle) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	h.plugin.mu.Lock()
	defer h.plugin.mu.Unlock()
	copy(h.plugin.disk[off:], p)
	if flags&server.FlagFUA != 0 {
		h.plugin.events = append(h.plugin.events, "WriteAt FUA")
	}
	return nil
}

func (h *Handle) Flush(ctx context.Context, flags server.Flags) error {
	h.plugin.event("Flush")
	return nil
}

func (h *Handle) Trim(ctx context.Context, off, length int64, flags server.Flags) error {
	return h.Zero(ctx, off, length, flags&server.FlagFUA)
}

func (h *Handle) Zero(ctx context.Context, off, length int64, flags server.Flags) error {
	if flags&server.FlagFastZero != 0 {
		return server.Errorf(syscall.ENOTSUP, "no fast zero here")
	}
	h.plugin.mu.Lock()
	defer h.plugin.mu.Unlock()
	clear(h.plugin.disk[off : off+length])
	if flags&server.FlagMayTrim != 0 {
		h.plugin.events = append(h.plugin.events, "Zero MayTrim")
	}
	return nil
}

// Extents reports every 4 KiB block of zeroes as a hole.
func (h *Handle) Extents(ctx context.Context, off, length int64, flags server.Flags, e *server.ExtentList) error {
	h.plugin.mu.Lock()
	defer h.plugin.mu.Unlock()
	const block = 4096
	for start := off / block * block; start < e.End(); start += block {
		end := min(start+block, h.plugin.size)
		t := server.ExtentHole | server.ExtentZero
		for _, b := range h.plugin.disk[start:end] {
			if b != 0 {
				t = server.ExtentData
				break
			}
		}
		if err := e.Add(start, end-start, t); err != nil {
			return err
		}
		if flags&server.FlagReqOne != 0 {
			break
		}
	}
	return nil
}

func (h *Handle) Cache(ctx context.Context, off, length int64, flags server.Flags) error {
	h.plugin.event("Cache %d+%d", off, length)
	return nil
}

func (h *Handle) BlockSize(ctx context.Context) (server.BlockSize, error) {
	return server.BlockSize{Minimum: 1, Preferred: 4096, Maximum: 0xffffffff}, nil
}

func (h *Handle) ExportDescription(ctx context.Context) (string, error) {
	return h.plugin.descriptor, nil
}

func (h *Handle) Capabilities(ctx context.Context, c *server.Capabilities) error {
	if h.plugin.nativeFUA {
		c.FUA = server.FUANative
	}
	c.MultiConn = true
	c.Rotational = false
	c.FastZero = true
	return nil
}

func (h *Handle) Close() error {
	h.plugin.event("Close")
	return nil
}
