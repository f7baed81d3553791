package data

import (
	"errors"
	"io"
	"os"
	"os/exec"
)

// script writes the output of the shell script of x, run by /bin/sh: at most limit
// bytes, or all of it if limit is negative.
//
// When the script is read to its end, it must exit with status 0. When limit bytes are
// enough, the script and whatever it started are killed once they are read, which
// ends scripts with endless output (<(yes)[:512]); how they exit then does not matter.
func (ev *evaluator) script(x *scriptNode, limit int64, c *canvas) error {
	cmd := exec.CommandContext(ev.ctx, "/bin/sh", "-c", x.script)
	cmd.Dir = ev.dir
	cmd.Stderr = ev.stderr
	ownProcessGroup(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return x.wrap(err, "<(SCRIPT)")
	}
	if err := cmd.Start(); err != nil {
		return x.wrap(err, "<(SCRIPT)")
	}
	var r io.Reader = out
	if limit >= 0 {
		r = io.LimitReader(out, limit)
	}
	readErr := c.readFrom(r, ev.canceled)
	if readErr != nil || limit >= 0 {
		// Whatever the script does next is not needed, or cannot be used.
		killProcessGroup(cmd)
		_ = cmd.Wait()
		if readErr != nil {
			return x.wrap(readErr, "<(SCRIPT)")
		}
		return nil
	}
	if err := cmd.Wait(); err != nil {
		if err := ev.canceled(); err != nil {
			return err
		}
		if exit := (*exec.ExitError)(nil); errors.As(err, &exit) {
			return x.errorf("<(SCRIPT) failed: %v", exit.ProcessState)
		}
		return x.wrap(err, "<(SCRIPT)")
	}
	return nil
}

// stderrOrDefault returns w, or the process's standard error if w is nil.
func stderrOrDefault(w io.Writer) io.Writer {
	if w == nil {
		return os.Stderr
	}
	return w
}
