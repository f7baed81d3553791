package exitwhen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/gonbd/gonbd/server"
)

// DefaultPoll is how often the events are checked by default, as in nbdkit.
const DefaultPoll = 60 * time.Second

// Options configure the filter.
type Options struct {
	// Events are what the filter watches for; any one of them shuts the server down.
	// With none the filter does nothing.
	Events []Event
	// Poll is how often the events are checked in the background. Default
	// DefaultPoll.
	Poll time.Duration
	// Logger receives what the filter sees and does. Default: discard.
	Logger *slog.Logger
}

// nbdkitKeys are nbdkit's parameters, each the exitwhen= kind it stands for.
var nbdkitKeys = []struct {
	key  string
	kind eventKind
}{
	{"exit-when-file-created", fileCreated},
	{"exit-when-file-deleted", fileDeleted},
	{"exit-when-pipe-closed", pipeClosed},
	{"exit-when-process-exits", processExits},
	{"exit-when-script", script},
}

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=exitwhen PLUGIN [exit-when-file-created=PATH] [exit-when-file-deleted=PATH]
//	      [exit-when-pipe-closed=FD] [exit-when-process-exits=PID] [exit-when-script=SCRIPT]
//	      [exitwhen=KIND:ARG] [exit-when-poll=SECS]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "exitwhen",
		Version:     moduleVersion(),
		Description: "shut the server down gracefully when an event happens",
		ConfigHelp: "exit-when-file-created=PATH  Exit once PATH exists.\n" +
			"exit-when-file-deleted=PATH  Exit once PATH does not exist.\n" +
			"exit-when-pipe-closed=FD     Exit once the pipe whose read end is FD is closed.\n" +
			"exit-when-process-exits=PID  Exit once process PID has exited.\n" +
			"exit-when-script=SCRIPT      Exit once SCRIPT (run by /bin/sh) exits with status 88.\n" +
			"exitwhen=KIND:ARG            The same, as file-created:PATH, file-deleted:PATH, pipe-closed:FD,\n" +
			"                             fd-closed:FD, process-exits:PID or script:SCRIPT. All are repeatable.\n" +
			"exit-when-poll=SECS          How often to check while idle (default 60; also exitwhen-poll=).",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			opts := Options{Logger: p.Logger}
			for _, k := range nbdkitKeys {
				for _, v := range p.All(k.key) {
					e, err := newEvent(k.kind, v)
					if err != nil {
						return nil, fmt.Errorf("%s=%s: %w", k.key, v, err)
					}
					opts.Events = append(opts.Events, e)
				}
			}
			for _, v := range p.All("exitwhen") {
				e, err := ParseEvent(v)
				if err != nil {
					return nil, fmt.Errorf("exitwhen=%s: %w", v, err)
				}
				opts.Events = append(opts.Events, e)
			}
			for _, key := range []string{"exit-when-poll", "exitwhen-poll"} {
				v, ok := p.Lookup(key)
				if !ok {
					continue
				}
				d, err := ParseSeconds(v)
				if err == nil && d == 0 {
					err = errors.New("the interval must be more than zero")
				}
				if err != nil {
					return nil, fmt.Errorf("%s=%s: %w", key, v, err)
				}
				opts.Poll = d
			}
			return New(next, opts), nil
		},
	}
}

// New returns a layer that shuts the server down ([server.Shutdown]) once one of
// opts.Events happens and no client is connected to next. From the event on, new
// clients are turned away.
//
// A client counts from the first export its connection opens until the context of
// that Open is done, which the server arranges to be when the connection closes.
func New(next server.Layer, opts Options) server.Layer {
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts, clients: make(map[uint64]bool)}
}

type filter struct {
	server.PassThrough
	opts Options

	// checkMu serializes checks, so that a script never runs twice at once.
	checkMu sync.Mutex

	mu          sync.Mutex
	clients     map[uint64]bool // the connections counted, by ID
	anon        uint64          // numbers connections without a ConnInfo
	triggered   bool            // an event happened
	shutdown    bool            // the server was asked to shut down
	stopPolling context.CancelFunc
	polling     sync.WaitGroup
}

func (f *filter) Name() string { return "exitwhen" }

// GetReady checks the events once, so that an event that already happened shuts the
// server down at once, and starts polling.
func (f *filter) GetReady(ctx context.Context) error {
	if err := f.Next.GetReady(ctx); err != nil {
		return err
	}
	if len(f.opts.Events) == 0 {
		return nil
	}
	// The poller outlives GetReady; it keeps the context's values, which tell
	// server.Shutdown which server to stop.
	pollCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.mu.Lock()
	f.stopPolling = cancel
	f.mu.Unlock()
	f.check(pollCtx)
	f.polling.Add(1)
	go f.poll(pollCtx)
	return nil
}

func (f *filter) poll(ctx context.Context) {
	defer f.polling.Done()
	t := time.NewTicker(f.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.check(ctx)
		}
	}
}

// check checks the events unless one already happened, and shuts the server down if
// one did and no client is connected. ctx must carry the server.
func (f *filter) check(ctx context.Context) {
	if !f.isTriggered() {
		f.checkMu.Lock()
		var happened *Event
		for i := range f.opts.Events {
			if e := &f.opts.Events[i]; e.happened(ctx, f.opts.Logger) {
				happened = e
				break
			}
		}
		f.checkMu.Unlock()
		if happened == nil {
			return
		}
		f.opts.Logger.Info("event: no new clients; shutting down once the last one disconnects", "event", happened.String())
		f.mu.Lock()
		f.triggered = true
		f.mu.Unlock()
	}
	f.shutdownIfIdle(ctx)
}

func (f *filter) isTriggered() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.triggered
}

// shutdownIfIdle asks the server to shut down, once, if an event happened and no
// client is connected.
func (f *filter) shutdownIfIdle(ctx context.Context) {
	f.mu.Lock()
	now := f.triggered && len(f.clients) == 0 && !f.shutdown
	if now {
		f.shutdown = true
	}
	f.mu.Unlock()
	if !now {
		return
	}
	f.opts.Logger.Info("shutting down")
	if !server.Shutdown(ctx) {
		f.opts.Logger.Warn("cannot shut down: the context does not come from a server")
	}
}

// Preconnect checks the events, as a new client is a good moment to, and turns the
// client away if one happened.
func (f *filter) Preconnect(ctx context.Context, info server.ConnInfo) error {
	if len(f.opts.Events) > 0 {
		f.check(ctx)
		if f.isTriggered() {
			return server.Errorf(syscall.ESHUTDOWN, "exitwhen: the server is shutting down")
		}
	}
	return f.Next.Preconnect(ctx, info)
}

// Open counts the client in, so that the server waits for it.
func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	h, err := f.Next.Open(ctx, req)
	if err != nil || len(f.opts.Events) == 0 {
		return h, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	info, ok := server.ConnInfoFrom(ctx)
	id := info.ID
	if !ok {
		f.anon++
		id = 1<<63 + f.anon
	}
	if !f.clients[id] { // not a second open on one connection (NBD_OPT_INFO, then GO)
		f.clients[id] = true
		context.AfterFunc(ctx, func() { f.leave(ctx, id) })
	}
	return h, nil
}

// leave counts a connection out and checks the events, as nbdkit does when a client
// disconnects. ctx is the connection's, done by now but still carrying the server.
func (f *filter) leave(ctx context.Context, id uint64) {
	f.mu.Lock()
	delete(f.clients, id)
	f.mu.Unlock()
	f.check(context.WithoutCancel(ctx))
}

// Cleanup stops polling, then cleans up the layers behind.
func (f *filter) Cleanup(ctx context.Context) {
	f.mu.Lock()
	stop := f.stopPolling
	f.mu.Unlock()
	if stop != nil {
		stop()
		f.polling.Wait()
	}
	f.Next.Cleanup(ctx)
}
