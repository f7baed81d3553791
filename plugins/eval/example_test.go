package eval_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gonbd/gonbd/plugins/eval"
	"github.com/gonbd/gonbd/server"
)

// A Go program serves a disk whose methods are shell fragments, as `gonbd eval
// get_size=... pread=...` does.
func Example() {
	ctx := context.Background()
	plugin, err := eval.New(eval.Options{Methods: map[string]string{
		"get_size": "echo 64k",
		"pread":    `head -c "$3" /dev/zero | tr '\0' 'e'`,
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer plugin.Cleanup(ctx)
	layer := server.PluginLayer("eval", plugin) // what server.New serves

	h, err := layer.Open(ctx, server.OpenRequest{})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)
	if err := h.Prepare(ctx, false); err != nil {
		log.Fatal(err)
	}
	size, _ := h.Size(ctx)
	caps, _ := h.Capabilities(ctx)
	buf := make([]byte, 4)
	if err := h.ReadAt(ctx, buf, 0, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d bytes, writable %v: %s\n", size, caps.Write, buf)
	// Output: 65536 bytes, writable false: eeee
}
