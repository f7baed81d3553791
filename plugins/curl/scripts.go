package curl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gonbd/gonbd/server"
)

// maxScriptOutput bounds what is kept of a script's output, so that a runaway script
// cannot exhaust the server's memory. Headers and cookies are far smaller.
const maxScriptOutput = 1 << 20

// A script is a header or cookie script: a shell script run by /bin/sh -c whose output
// gives the headers or the cookie of requests.
type script struct {
	param string // "header-script" or "cookie-script", for messages
	text  string
	// renew is how long an output stays valid; zero is for ever.
	renew time.Duration
	url   string // given to the script as $url

	// Guarded by templates.mu.
	iteration int       // runs so far, given to the script as $iteration
	ranAt     time.Time // when the current output was made; zero before the first run
	output    string
}

// due reports whether the script must run before the next request.
func (s *script) due(now time.Time) bool {
	return s.ranAt.IsZero() || s.renew > 0 && now.Sub(s.ranAt) >= s.renew
}

// run runs the script and keeps its output. Its standard input is empty; its standard
// error goes into the error message when it fails.
func (s *script) run(ctx context.Context, log *slog.Logger) error {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", s.text)
	cmd.Env = append(os.Environ(), "iteration="+strconv.Itoa(s.iteration), "url="+s.url)
	stdout := &cappedBuffer{limit: maxScriptOutput}
	stderr := &cappedBuffer{limit: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = time.Second
	s.iteration++
	started := time.Now()
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			msg = ": " + msg
		}
		return server.Errorf(syscall.EIO, "%s failed (%v)%s", s.param, err, msg)
	}
	if stdout.truncated {
		return server.Errorf(syscall.EIO, "%s printed more than %d bytes", s.param, maxScriptOutput)
	}
	s.output, s.ranAt = stdout.String(), started
	// The output holds secrets (tokens, cookies): say that the script ran, not what
	// it printed.
	log.Debug("ran "+s.param, "iteration", s.iteration-1, "bytes", len(s.output), "duration", time.Since(started))
	return nil
}

// templates makes the request templates: one for the life of the plugin without
// scripts, a new one whenever a script runs again with them.
type templates struct {
	own    credentials
	static []headerEdit // header= edits; nil with a header script
	log    *slog.Logger

	mu           sync.Mutex
	headerScript *script // nil without one
	cookieScript *script // nil without one
	current      *requestTemplate
}

func newTemplates(opts *Options, own credentials, edits []headerEdit) *templates {
	t := &templates{own: own, static: edits, log: opts.Logger}
	if opts.HeaderScript != "" {
		t.headerScript = &script{param: "header-script", text: opts.HeaderScript, renew: opts.HeaderScriptRenew, url: opts.URL}
	}
	if opts.CookieScript != "" {
		t.cookieScript = &script{param: "cookie-script", text: opts.CookieScript, renew: opts.CookieScriptRenew, url: opts.URL}
	}
	if t.headerScript == nil && t.cookieScript == nil {
		t.current = newTemplate(own, edits)
	}
	return t
}

// get returns the template of the next request, running the scripts that are due
// first. Requests wait while a script runs, so that none goes out with an expired
// token.
func (t *templates) get(ctx context.Context) (*requestTemplate, error) {
	if t.headerScript == nil && t.cookieScript == nil {
		return t.current, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	ran := false
	for _, s := range []*script{t.headerScript, t.cookieScript} {
		if s == nil || !s.due(now) {
			continue
		}
		if err := s.run(ctx, t.log); err != nil {
			return nil, err
		}
		ran = true
	}
	if !ran && t.current != nil {
		return t.current, nil
	}
	own, edits := t.own, t.static
	if s := t.headerScript; s != nil {
		var err error
		if edits, err = parseHeaders(strings.Split(s.output, "\n")); err != nil {
			return nil, server.Errorf(syscall.EIO, "%s printed a bad header: %w", s.param, err)
		}
	}
	if s := t.cookieScript; s != nil {
		own.cookie, _, _ = strings.Cut(s.output, "\n")
		own.cookie = strings.TrimRight(own.cookie, "\r")
		if strings.ContainsAny(own.cookie, "\x00\r") {
			return nil, server.Errorf(syscall.EIO, "%s printed a cookie with control characters", s.param)
		}
	}
	t.current = newTemplate(own, edits)
	return t.current, nil
}

// cappedBuffer keeps the first limit bytes written to it and discards the rest, noting
// that it did.
type cappedBuffer struct {
	bytes.Buffer
	limit     int
	truncated bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.Len(); len(p) > room {
		b.truncated = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// errNoScripts is what a script parameter gets where there is no /bin/sh.
var errNoScripts = errors.New("scripts need /bin/sh")

// checkShell fails when there is no shell to run scripts with.
func checkShell() error {
	if _, err := os.Stat("/bin/sh"); err != nil {
		return fmt.Errorf("%w: %v", errNoScripts, err)
	}
	return nil
}
