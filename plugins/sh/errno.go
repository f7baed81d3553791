package sh

import (
	"bytes"
	"fmt"
	"strings"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// errnoNames are the errno names a failing script may print first on its standard
// error. They are nbdkit's: those of the NBD protocol's errors, and those its server
// maps to one. Any other name, or none, means EIO, as in nbdkit.
var errnoNames = map[string]syscall.Errno{
	"EPERM":      syscall.EPERM,
	"EIO":        syscall.EIO,
	"ENOMEM":     syscall.ENOMEM,
	"EINVAL":     syscall.EINVAL,
	"ENOSPC":     syscall.ENOSPC,
	"EOVERFLOW":  syscall.EOVERFLOW,
	"ESHUTDOWN":  syscall.ESHUTDOWN,
	"ENOTSUP":    syscall.ENOTSUP,
	"EOPNOTSUPP": syscall.EOPNOTSUPP,
	"EROFS":      syscall.EROFS,
	"EDQUOT":     syscall.EDQUOT,
	"EFBIG":      syscall.EFBIG,
}

// scriptError makes the error of a script that exited with code (1, or 4 and up)
// after printing stderr: "ERRNO message", "ERRNO", or anything else (EIO).
func scriptError(call string, code int, stderr []byte) error {
	errno, message := parseErrorOutput(stderr)
	if message == "" {
		return server.Errorf(errno, "%s: the script failed (exit code %d) without a message on standard error", call, code)
	}
	return server.Errorf(errno, "%s: %s", call, message)
}

// parseErrorOutput splits a failed script's standard error into the errno its first
// word names (case does not matter) and the message after it. When the first word is
// no errno name, the errno is EIO and the message is the whole text. Trailing
// newlines are dropped.
func parseErrorOutput(stderr []byte) (syscall.Errno, string) {
	text := string(bytes.TrimRight(stderr, "\n"))
	word, rest := text, ""
	if i := strings.IndexAny(text, " \t\n\v\f\r"); i >= 0 {
		word, rest = text[:i], text[i:]
	}
	errno, ok := errnoNames[strings.ToUpper(word)]
	if !ok {
		return syscall.EIO, text
	}
	return errno, strings.TrimLeft(rest, " \t\n\v\f\r")
}

// errorf makes the error of a script whose answer breaks the calling convention
// (output that cannot be parsed, a required method missing...): EIO, naming the
// script and the method.
func (p *Plugin) errorf(method, format string, args ...any) error {
	return server.Errorf(syscall.EIO, "%s: %s", p.describe(p.scriptFor(method), method), fmt.Sprintf(format, args...))
}
