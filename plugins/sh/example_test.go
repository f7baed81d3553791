package sh_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/gonbd/gonbd/plugins/sh"
	"github.com/gonbd/gonbd/server"
)

// A Go program serves a disk whose methods are a shell script.
func Example() {
	dir, err := os.MkdirTemp("", "gonbd-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "disk.sh")
	err = os.WriteFile(script, []byte(`#!/bin/sh
case "$1" in
  get_size) echo 1M ;;
  pread) head -c "$3" /dev/zero | tr '\0' '#' ;;
  *) exit 2 ;;
esac
`), 0o700)
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	plugin, err := sh.New(sh.Options{Script: script})
	if err != nil {
		log.Fatal(err)
	}
	defer plugin.Cleanup(ctx)
	layer := server.PluginLayer("sh", plugin) // what server.New serves

	h, err := layer.Open(ctx, server.OpenRequest{})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)
	if err := h.Prepare(ctx, false); err != nil {
		log.Fatal(err)
	}
	size, _ := h.Size(ctx)
	buf := make([]byte, 8)
	if err := h.ReadAt(ctx, buf, 4096, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d bytes: %s\n", size, buf)
	// Output: 1048576 bytes: ########
}
