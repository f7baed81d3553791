package logfilter

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// timeLayout is nbdkit's timestamp, in UTC with microseconds.
const timeLayout = "2006-01-02 15:04:05.000000"

// Kinds of messages, as a log script sees them in $type.
const (
	kindEnter = "ENTER" // a call starts
	kindLeave = "LEAVE" // it returns
	kindPrint = "PRINT" // a single event
)

// An output writes log messages to the log file and to the log script, either or
// both.
type output struct {
	mu   sync.Mutex // orders the file's lines
	file *os.File

	bash, script string
	scriptMu     sync.RWMutex  // write-held to close scripts
	scripts      chan string   // texts for the script runner, in order
	closed       bool          // scripts is closed
	ran          chan struct{} // closed when the runner has finished
	closeOnce    sync.Once

	buffers sync.Pool // *[]byte
}

// scriptQueue bounds the log script runs waiting to start: beyond it, requests wait
// for the script to catch up rather than pile up in memory.
const scriptQueue = 1024

func newOutput(file *os.File, bash, script string) *output {
	o := &output{file: file, bash: bash, script: script}
	o.buffers.New = func() any { b := make([]byte, 0, 256); return &b }
	if script != "" {
		o.scripts = make(chan string, scriptQueue)
		o.ran = make(chan struct{})
		go o.runScripts()
	}
	return o
}

// message logs one message. conn is the connection's number, 0 outside connections;
// id the call's number, 0 for none. body are the key=value pairs, with no " ..."
// (added here for ENTER lines).
func (o *output) message(kind string, conn uint64, act string, id uint64, body []byte) {
	if o.file != nil {
		o.writeLine(kind, conn, act, id, body)
	}
	if o.scripts != nil {
		o.queueScript(kind, conn, act, id, body)
	}
}

// writeLine writes a line of nbdkit's log file format:
//
//	2020-08-06 02:07:23.080907 connection=1 Read id=1 offset=0x0 count=0x200 ...
//	2020-08-06 02:07:23.080927 connection=1 ...Read id=1 return=0
func (o *output) writeLine(kind string, conn uint64, act string, id uint64, body []byte) {
	bp := o.buffers.Get().(*[]byte)
	b := time.Now().UTC().AppendFormat((*bp)[:0], timeLayout)
	b = append(b, ' ')
	if conn != 0 {
		b = append(b, "connection="...)
		b = strconv.AppendUint(b, conn, 10)
		b = append(b, ' ')
	}
	if kind == kindLeave {
		b = append(b, "..."...)
	}
	b = append(b, act...)
	if id != 0 {
		b = append(b, " id="...)
		b = strconv.AppendUint(b, id, 10)
	}
	if len(body) > 0 {
		b = append(b, ' ')
		b = append(b, body...)
	}
	if kind == kindEnter {
		b = append(b, " ..."...)
	}
	b = append(b, '\n')
	o.mu.Lock()
	o.file.Write(b) // nothing to do about a full disk but go on serving
	o.mu.Unlock()
	*bp = b
	o.buffers.Put(bp)
}

// queueScript queues the script run for one message: the script, after the message's
// fields as shell variable assignments (act, connection, type, id, then the body's
// own key=value pairs).
func (o *output) queueScript(kind string, conn uint64, act string, id uint64, body []byte) {
	b := make([]byte, 0, 64+len(body)+len(o.script))
	b = append(b, "act="...)
	b = append(b, act...)
	b = append(b, '\n')
	if conn != 0 {
		b = append(b, "connection="...)
		b = strconv.AppendUint(b, conn, 10)
		b = append(b, '\n')
	}
	b = append(b, "type="...)
	b = append(b, kind...)
	b = append(b, '\n')
	if id != 0 {
		b = append(b, "id="...)
		b = strconv.AppendUint(b, id, 10)
		b = append(b, '\n')
	}
	if len(body) > 0 {
		b = append(b, body...)
		b = append(b, '\n')
	}
	b = append(b, o.script...)
	o.scriptMu.RLock()
	defer o.scriptMu.RUnlock()
	if !o.closed {
		o.scripts <- string(b)
	}
}

// runScripts runs the queued scripts one at a time, in the order of the messages.
// Their exit status and output go nowhere but their own redirections: a log script
// cannot change or stop what it logs.
func (o *output) runScripts() {
	defer close(o.ran)
	for text := range o.scripts {
		cmd := exec.Command(o.bash, "-c", text)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.Run()
	}
}

// close waits for the queued scripts to run, or for ctx to end, and closes the file.
func (o *output) close(ctx context.Context) error {
	var err error
	o.closeOnce.Do(func() {
		if o.scripts != nil {
			o.scriptMu.Lock()
			o.closed = true
			close(o.scripts)
			o.scriptMu.Unlock()
			select {
			case <-o.ran:
			case <-ctx.Done():
			}
		}
		if o.file != nil {
			o.mu.Lock()
			if cerr := o.file.Close(); cerr != nil {
				err = fmt.Errorf("closing the log file: %w", cerr)
			}
			o.mu.Unlock()
		}
	})
	return err
}
