package pause

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
)

// maxSocketPath is the longest Unix socket path the system takes (sun_path holds 108
// bytes on Linux, including the terminating NUL).
const maxSocketPath = 107

// controlSocket serves the control protocol on a Unix socket: each byte received is a
// command, answered with one byte once done:
//
//	p  pause: 'P' once the requests that were running have finished
//	r  resume: 'R'
//
// Anything else is answered 'X', except spaces, tabs and newlines (such as the one
// echo adds), which nbdkit ignores too.
type controlSocket struct {
	path   string
	ln     net.Listener
	f      *Filter
	ctx    context.Context // ends at close, to interrupt a pause that waits
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func listenControl(path string, f *Filter) (*controlSocket, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("pause-control socket path too long: length %d > max %d bytes", len(path), maxSocketPath)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("pause-control: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &controlSocket{path: path, ln: ln, f: f, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
	c.wg.Add(1)
	go c.accept()
	return c, nil
}

func (c *controlSocket) accept() {
	defer c.wg.Done()
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return // closed
		}
		c.mu.Lock()
		if c.ctx.Err() != nil {
			c.mu.Unlock()
			conn.Close()
			return
		}
		c.conns[conn] = struct{}{}
		c.mu.Unlock()
		c.wg.Add(1)
		go c.serve(conn)
	}
}

func (c *controlSocket) serve(conn net.Conn) {
	defer c.wg.Done()
	defer func() {
		c.mu.Lock()
		delete(c.conns, conn)
		c.mu.Unlock()
		conn.Close()
	}()
	var cmd [1]byte
	for {
		if _, err := io.ReadFull(conn, cmd[:]); err != nil {
			return
		}
		var reply byte
		switch cmd[0] {
		case 'p':
			if err := c.f.Pause(c.ctx); err != nil {
				return // closing
			}
			reply = 'P'
		case 'r':
			c.f.Resume()
			reply = 'R'
		case ' ', '\t', '\n':
			continue
		default:
			reply = 'X'
		}
		if _, err := conn.Write([]byte{reply}); err != nil {
			return
		}
	}
}

// close stops listening, ends the control connections and removes the socket.
func (c *controlSocket) close() error {
	c.mu.Lock()
	c.cancel()
	err := c.ln.Close()
	for conn := range c.conns {
		conn.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
	// Closing a Go Unix listener removes its socket file; make sure of it.
	if rmErr := os.Remove(c.path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) && err == nil {
		err = rmErr
	}
	return err
}
