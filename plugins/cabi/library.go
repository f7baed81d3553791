//go:build cgo && unix

package cabi

/*
#cgo CFLAGS: -O2 -Wall
#cgo LDFLAGS: -rdynamic -ldl
#include <stdlib.h>
#include "cabi.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/gonbd/gonbd/server"
)

// Available reports whether this build can load C plugins: it needs cgo on a Unix
// system.
const Available = true

// ErrNoCgo is what loading fails with in a build without cgo; this build has cgo.
var ErrNoCgo = errors.New("loading nbdkit's C plugins needs a gonbd built with cgo (CGO_ENABLED=1 and a C compiler) on a Unix system")

// A Library is a loaded C plugin: nbdkit's struct nbdkit_plugin from a shared
// object, adapted to [server.Plugin]. Its methods call the plugin's callbacks.
//
// A shared object is loaded once per process: loading the same path again gives the
// same plugin, with its global state, so load a plugin once and configure it once.
type Library struct {
	path   string
	c      *C.cabi_plugin
	self   cgo.Handle // what the C side calls back into Go with
	main   *mainThread
	opts   Options
	logger atomic.Pointer[slog.Logger]
	// ready is the context of GetReady, which nbdkit_shutdown needs outside
	// connections.
	ready atomic.Pointer[context.Context]

	name, longname, version, description string
	magicConfigKey, configHelp           string

	zeroOnce sync.Once
	zeroes   []byte // a buffer of zeroes for writing zeroes, made on first use
	unloaded sync.Once
}

// Load opens the shared object at path, checks that it is an nbdkit plugin of API
// version 1 or 2, and calls its load callback. A symbol the plugin needs that gonbd
// lacks fails here with the dynamic linker's message, which names it.
func Load(path string, opts Options) (*Library, error) {
	l := &Library{path: path, opts: opts}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l.logger.Store(logger)
	l.self = cgo.NewHandle(l)

	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var errmsg *C.char
	l.main = startMainThread()
	l.main.do(func() { l.c = C.cabi_load(cpath, C.uintptr_t(l.self), &errmsg) })
	if l.c == nil {
		l.main.stop()
		l.self.Delete()
		msg := "unknown error"
		if errmsg != nil {
			msg = C.GoString(errmsg)
			C.free(unsafe.Pointer(errmsg))
		}
		return nil, &LoadError{Path: path, Err: errors.New(msg)}
	}
	p := &l.c.p
	l.name = C.GoString(p.name)
	l.longname = goStringOrEmpty(p.longname)
	l.version = goStringOrEmpty(p.version)
	l.description = goStringOrEmpty(p.description)
	l.magicConfigKey = goStringOrEmpty(p.magic_config_key)
	l.configHelp = goStringOrEmpty(p.config_help)
	var st C.cabi_status
	l.main.do(func() { st = C.cabi_call_load(l.c) })
	if err := l.status("load", st); err != nil {
		return nil, &LoadError{Path: path, Err: err}
	}
	return l, nil
}

func goStringOrEmpty(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

// Name returns the plugin's .name.
func (l *Library) Name() string { return l.name }

// Path returns the path the plugin was loaded from.
func (l *Library) Path() string { return l.path }

// APIVersion returns the nbdkit plugin API version the plugin was built for, 1 or 2.
func (l *Library) APIVersion() int { return int(l.c.p._api_version) }

// MagicConfigKey returns the plugin's .magic_config_key, or "".
func (l *Library) MagicConfigKey() string { return l.magicConfigKey }

// Spec returns the plugin's [server.PluginSpec]: its name, version, description,
// magic parameter ("script" when the struct names none) and help from the C struct, and a New that passes every parameter
// to the plugin's config callback in order, then calls config_complete.
func (l *Library) Spec() server.PluginSpec {
	description := l.description
	if description == "" {
		description = l.longname
	}
	if description == "" {
		description = "nbdkit C plugin " + l.path
	}
	// Without a magic key nbdkit gives the first bare parameter to "script" (its
	// behaviour before 1.7, which language plugins such as python rely on).
	magic := l.magicConfigKey
	if magic == "" {
		magic = "script"
	}
	return server.PluginSpec{
		Name:           l.name,
		Version:        l.version,
		Description:    description,
		MagicConfigKey: magic,
		ConfigHelp:     l.configHelp,
		New: func(p *server.Params) (server.Plugin, error) {
			if p.Logger != nil {
				l.logger.Store(p.Logger)
			}
			params := p.List()
			for _, param := range params {
				p.Lookup(param.Key) // the plugin sees, and judges, every parameter
			}
			if err := l.Configure(params); err != nil {
				return nil, err
			}
			return l, nil
		},
	}
}

// Configure calls the plugin's config callback for each parameter in order, then its
// config_complete.
func (l *Library) Configure(params []server.Param) error {
	for _, param := range params {
		key, value := C.CString(param.Key), C.CString(param.Value)
		var st C.cabi_status
		l.main.do(func() { st = C.cabi_config(l.c, key, value) })
		err := l.configStatus("config", st)
		C.free(unsafe.Pointer(key))
		C.free(unsafe.Pointer(value))
		if err != nil {
			return fmt.Errorf("%s=%s: %w", param.Key, param.Value, err)
		}
	}
	var st C.cabi_status
	l.main.do(func() { st = C.cabi_config_complete(l.c) })
	return l.configStatus("config_complete", st)
}

// configStatus is status for callbacks whose errno means nothing to anyone
// (configuration, loading): the error is the plugin's message alone.
func (l *Library) configStatus(op string, st C.cabi_status) error {
	err := l.status(op, st)
	if err == nil {
		return nil
	}
	var se *server.Error
	if errors.As(err, &se) && se.Err != nil {
		return se.Err
	}
	return err
}

// status turns the outcome of a callback into an error carrying the plugin's errno
// and its nbdkit_error message, or nil. A message from a call that succeeded is
// logged.
func (l *Library) status(op string, st C.cabi_status) error {
	var msg string
	if st.msg != nil {
		msg = C.GoString(st.msg)
		C.free(unsafe.Pointer(st.msg))
	}
	if st.err == 0 {
		if msg != "" {
			l.logger.Load().Error(msg, "callback", op)
		}
		return nil
	}
	errno := syscall.Errno(st.err)
	if msg == "" {
		return server.Errorf(errno, "%s: %s: %v", l.name, op, errno)
	}
	return server.Errorf(errno, "%s", msg)
}

// ThreadModel returns the plugin's thread model: the one it was built with, made
// stricter by its thread_model callback.
func (l *Library) ThreadModel() server.ThreadModel {
	var m C.int
	l.main.do(func() { m = C.cabi_thread_model(l.c) })
	if m < 0 || m > C.int(server.Parallel) {
		// The callback failed or answered nonsense: be safe.
		return server.SerializeAllRequests
	}
	return server.ThreadModel(m)
}

// GetReady calls the plugin's get_ready callback, then after_fork: gonbd does not
// fork, so the plugin's configuration is final and it runs in the serving process.
func (l *Library) GetReady(ctx context.Context) error {
	l.ready.Store(&ctx)
	var ready, afterFork C.cabi_status
	l.main.do(func() {
		ready = C.cabi_get_ready(l.c)
		if ready.err == 0 {
			afterFork = C.cabi_after_fork(l.c)
		}
	})
	if err := l.status("get_ready", ready); err != nil {
		return err
	}
	return l.status("after_fork", afterFork)
}

// Preconnect calls the plugin's preconnect callback, which may refuse the client.
func (l *Library) Preconnect(ctx context.Context, info server.ConnInfo) error {
	if l.c.p.preconnect == nil {
		return nil
	}
	c, err := newConn(ctx, l, info)
	if err != nil {
		return err
	}
	defer c.free()
	return l.status("preconnect", C.cabi_preconnect(l.c, c.c, cBool(info.ReadOnly)))
}

// ListExports calls the plugin's list_exports callback. Without one, the list holds
// the default export.
func (l *Library) ListExports(ctx context.Context, readOnly bool) ([]server.Export, error) {
	info, _ := server.ConnInfoFrom(ctx)
	e := C.nbdkit_exports_new()
	if e == nil {
		return nil, server.Errorf(syscall.ENOMEM, "%s: list_exports: out of memory", l.name)
	}
	defer C.nbdkit_exports_free(e)
	if err := l.status("list_exports", C.cabi_list_exports(l.c, cBool(readOnly), cBool(info.TLS), e)); err != nil {
		return nil, err
	}
	if l.c.p.list_exports == nil {
		name, err := l.DefaultExport(ctx, readOnly)
		if err != nil {
			return nil, err
		}
		return []server.Export{{Name: name}}, nil
	}
	entries := unsafe.Slice(e.v, e.len)
	exports := make([]server.Export, 0, len(entries))
	for _, x := range entries {
		if x.name == nil { // nbdkit_use_default_export
			name, err := l.DefaultExport(ctx, readOnly)
			if err != nil {
				return nil, err
			}
			exports = append(exports, server.Export{Name: name})
			continue
		}
		exports = append(exports, server.Export{Name: C.GoString(x.name), Description: goStringOrEmpty(x.description)})
	}
	return exports, nil
}

// DefaultExport calls the plugin's default_export callback; without one the default
// export is "".
func (l *Library) DefaultExport(ctx context.Context, readOnly bool) (string, error) {
	info, _ := server.ConnInfoFrom(ctx)
	var name *C.char
	if err := l.status("default_export", C.cabi_default_export(l.c, cBool(readOnly), cBool(info.TLS), &name)); err != nil {
		return "", err
	}
	defer C.free(unsafe.Pointer(name))
	return goStringOrEmpty(name), nil
}

// Cleanup calls the plugin's cleanup callback, then unload. The plugin cannot be
// used afterwards.
func (l *Library) Cleanup(ctx context.Context) {
	l.unloaded.Do(func() {
		l.main.do(func() {
			C.cabi_cleanup(l.c)
			C.cabi_unload(l.c)
		})
		l.main.stop()
	})
}

// DumpPlugin writes nbdkit's --dump-plugin lines about the C struct, then lets the
// plugin's dump_plugin callback print its own (to standard output, where nbdkit's
// plugins write them).
func (l *Library) DumpPlugin(w io.Writer) {
	p := &l.c.p
	fmt.Fprintf(w, "c_plugin_path=%s\nc_api_version=%d\nstruct_size=%d\nerrno_is_preserved=%d\n",
		l.path, int(p._api_version), uint64(p._struct_size), int(p.errno_is_preserved))
	if l.longname != "" {
		fmt.Fprintf(w, "longname=%s\n", l.longname)
	}
	if f, ok := w.(interface{ Sync() error }); ok {
		f.Sync()
	}
	if w == io.Writer(os.Stdout) {
		l.main.do(func() { C.cabi_dump_plugin(l.c) })
	}
}

// zeroBuffer returns a buffer of zeroes shared by the plugin's connections, which
// WriteAt must not modify.
func (l *Library) zeroBuffer() []byte {
	l.zeroOnce.Do(func() { l.zeroes = make([]byte, 1<<20) })
	return l.zeroes
}

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
