//go:build cgo && unix

package cabi

import "runtime"

// A mainThread runs a plugin's process-wide callbacks (load, config, get_ready,
// cleanup, unload...) on one OS thread, as nbdkit runs them on its main thread.
// Interpreters embedded by language plugins tie state to the thread that started
// them: Tcl, for one, aborts when unloaded from another.
type mainThread struct {
	calls chan func()
}

func startMainThread() *mainThread {
	m := &mainThread{calls: make(chan func())}
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for f := range m.calls {
			f()
		}
	}()
	return m
}

// do runs f on the thread and waits for it.
func (m *mainThread) do(f func()) {
	done := make(chan struct{})
	m.calls <- func() {
		defer close(done)
		f()
	}
	<-done
}

// stop ends the thread's goroutine once the plugin is unloaded.
func (m *mainThread) stop() { close(m.calls) }
