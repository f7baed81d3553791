package server_test

import (
	"context"
	"fmt"
	"log"
	"sync"
	"testing"

	"github.com/gonbd/gonbd/server"
	"github.com/gonbd/gonbd/server/servertest"
)

// ramdisk is a complete plugin: a disk in memory, shared by every client.
type ramdisk struct {
	mu   sync.RWMutex
	data []byte
}

// RamdiskSpec is what a plugin module exports and the gonbd command links.
var RamdiskSpec = server.PluginSpec{
	Name:           "ramdisk",
	Version:        "1.0.0",
	Description:    "a disk in memory",
	MagicConfigKey: "size",
	ConfigHelp:     "size=SIZE  the size of the disk (default 1M)",
	New: func(p *server.Params) (server.Plugin, error) {
		size, err := p.Size("size", 1<<20)
		if err != nil {
			return nil, err
		}
		if size > 1<<30 {
			return nil, fmt.Errorf("size=%d: a ramdisk holds at most 1G", size)
		}
		return &ramdisk{data: make([]byte, size)}, nil
	},
}

// Open returns the disk itself as every connection's handle: its methods lock.
func (r *ramdisk) Open(ctx context.Context, req server.OpenRequest) (server.Handle, error) {
	return r, nil
}

func (r *ramdisk) Size(ctx context.Context) (int64, error) {
	return int64(len(r.data)), nil
}

// ReadAt and WriteAt need no bounds checks: the server makes them before.
func (r *ramdisk) ReadAt(ctx context.Context, p []byte, off int64) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	copy(p, r.data[off:])
	return nil
}

// WriteAt makes the disk writable: the server sees the method and advertises writing
// (and zeroing, by writing zeroes, since ramdisk has no Zero method).
func (r *ramdisk) WriteAt(ctx context.Context, p []byte, off int64, flags server.Flags) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	copy(r.data[off:], p)
	return nil
}

func Example_plugin() {
	params := server.NewParams([]server.Param{{Key: "size", Value: "64k"}}, nil)
	plugin, err := RamdiskSpec.New(params)
	if err != nil {
		log.Fatal(err)
	}
	if unused := params.Unused(); len(unused) > 0 {
		log.Fatalf("unknown parameter %s", unused[0].Key)
	}

	// The server adapts the plugin into a layer, and opens and prepares a handle for
	// each connection.
	layer := server.PluginLayer(RamdiskSpec.Name, plugin)
	ctx := context.Background()
	h, err := layer.Open(ctx, server.OpenRequest{})
	if err != nil {
		log.Fatal(err)
	}
	if err := h.Prepare(ctx, false); err != nil {
		log.Fatal(err)
	}

	if err := h.WriteAt(ctx, []byte("hello, world"), 1024, 0); err != nil {
		log.Fatal(err)
	}
	if err := h.Zero(ctx, 1024+5, 7, 0); err != nil { // emulated with WriteAt
		log.Fatal(err)
	}
	buf := make([]byte, 12)
	if err := h.ReadAt(ctx, buf, 1024, 0); err != nil {
		log.Fatal(err)
	}
	size, _ := h.Size(ctx)
	caps, _ := h.Capabilities(ctx)
	fmt.Printf("size %d, write %v, zero %v, flush %v\n", size, caps.Write, caps.Zero, caps.Flush)
	fmt.Printf("%q\n", buf)
	// Output:
	// size 65536, write true, zero true, flush false
	// "hello\x00\x00\x00\x00\x00\x00\x00"
}

func TestRamdiskWithClients(t *testing.T) {
	servertest.EndToEnd(t, "qemu-io", "nbdsh") // skipped with -short
	s := servertest.StartStack(t, RamdiskSpec, nil, "size=1M")

	servertest.QemuIO(t, s.URI(), "write -P 0xab 4k 4k", "read -P 0xab 4k 4k")
	servertest.Nbdsh(t, s.URI(), "assert h.get_size() == 1 << 20")
}
