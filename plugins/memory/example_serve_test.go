package memory_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"

	"github.com/gonbd/gonbd/plugins/memory"
	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server"
)

// A Go program serves a RAM disk on its own listener, as docs/embedding.md shows, and a
// client writes to it and reads it back.
func Example_serve() {
	ctx, stop := context.WithCancel(context.Background())
	disk, err := memory.New(memory.Options{Size: 1 << 30})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.New(ctx, server.PluginLayer("memory", disk), server.Options{})
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "gonbd-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "nbd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	c, err := client.Dial(ctx, "unix", sock, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.WriteAt(ctx, []byte("hello, block device"), 4096, 0); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 19)
	if err := c.ReadAt(ctx, buf, 4096, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("size %d: %s\n", c.Size(), buf)
	c.Close()

	stop() // stop accepting and drain the connections
	if err := <-served; err != nil {
		log.Fatal(err)
	}
	srv.Close(context.Background())
	// Output: size 1073741824: hello, block device
}
