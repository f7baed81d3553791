package exportname

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"
)

const (
	// scriptTimeout bounds a description script: a client waits for it.
	scriptTimeout = 10 * time.Second
	// maxDescription is the longest description the protocol carries.
	maxDescription = 4096
)

// runScript runs script with /bin/sh, $name set to the export's name, and returns what
// it prints without the trailing newlines. A script that fails gives no description:
// the client is not refused for a missing description, and the log says why.
func runScript(ctx context.Context, log *slog.Logger, script, name string) string {
	ctx, cancel := context.WithTimeout(ctx, scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	// The name goes in the environment, never into the script's text, so that a
	// client's choice of name cannot inject commands.
	cmd.Env = append(os.Environ(), "name="+name)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		log.Warn("exportdesc script failed", "export", name, "err", err, "stderr", stderr.String())
		return ""
	}
	desc := strings.TrimRight(stdout.String(), "\n")
	if len(desc) > maxDescription {
		desc = desc[:maxDescription]
	}
	return desc
}
