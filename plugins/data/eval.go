package data

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
)

// An evaluator writes what a syntax tree describes into a canvas.
type evaluator struct {
	ctx context.Context
	// dir is where relative file names and scripts start from; "" is the current
	// directory.
	dir string
	// stderr receives what scripts write to their standard error.
	stderr io.Writer
}

// A binding is a name given by -> \NAME, in a linked list of the names in scope, the
// latest first. The named expression is evaluated where \NAME is used, but with the
// names that were in scope where it was named (its next), so that names mean what they
// meant when the expression was written and an expression cannot refer to itself.
type binding struct {
	name string
	x    node
	next *binding
}

func (b *binding) lookup(name string) *binding {
	for ; b != nil; b = b.next {
		if b.name == name {
			return b
		}
	}
	return nil
}

// evaluate writes body, the data parameter, into a new canvas and returns it.
func (ev *evaluator) evaluate(body []node) (*canvas, error) {
	c := newCanvas()
	if err := ev.sequence(body, nil, c); err != nil {
		return nil, err
	}
	return c, nil
}

// canceled returns the context's error once it is done, to stop long evaluations.
func (ev *evaluator) canceled() error { return ev.ctx.Err() }

// sequence writes the nodes of body in order. Each -> \NAME adds a name for the nodes
// after it; the names go out of scope with the sequence.
func (ev *evaluator) sequence(body []node, env *binding, c *canvas) error {
	for _, x := range body {
		if err := ev.canceled(); err != nil {
			return err
		}
		if a, ok := x.(*assignNode); ok {
			env = &binding{name: a.name, x: a.x, next: env}
			continue
		}
		if err := ev.eval(x, env, c); err != nil {
			return err
		}
	}
	return nil
}

// nested evaluates x into a canvas of its own, with offsets from 0 and names of its
// own: the inside of a group, the operand of *N and [N:M].
func (ev *evaluator) nested(x node, env *binding) (*canvas, error) {
	sub := newCanvas()
	if err := ev.eval(x, env, sub); err != nil {
		return nil, err
	}
	return sub, nil
}

// eval writes x at the canvas's offset.
func (ev *evaluator) eval(x node, env *binding, c *canvas) error {
	var err error
	switch x := x.(type) {
	case *byteNode:
		err = c.write([]byte{x.b})
	case *bytesNode:
		err = c.write(x.b)
	case *offsetNode:
		err = moveOffset(x, c)
	case *fileNode:
		err = ev.file(x, 0, -1, c)
	case *scriptNode:
		err = ev.script(x, -1, c)
	case *groupNode:
		sub := newCanvas()
		if err := ev.sequence(x.body, env, sub); err != nil {
			return err
		}
		err = c.copyFrom(sub, 0, sub.end)
	case *repeatNode:
		err = ev.repeat(x, env, c)
	case *sliceNode:
		err = ev.slice(x, env, c)
	case *assignNode:
		// Named where it is not directly in a sequence (as the operand of *N, say): the
		// name goes out of scope at once, and nothing is written.
	case *nameNode:
		b := env.lookup(x.name)
		if b == nil {
			return x.errorf(`\%s is not defined here (names are defined with "EXPR -> \%s" earlier in the same group or an enclosing one)`, x.name, x.name)
		}
		return ev.eval(b.x, b.next, c)
	default:
		return x.at().errorf("internal error: cannot evaluate a %T", x)
	}
	var located *Error
	if err != nil && !errors.As(err, &located) && ev.canceled() == nil {
		err = x.at().wrap(err, "")
	}
	return err
}

// moveOffset applies @N, @+N, @-N or @^N.
func moveOffset(x *offsetNode, c *canvas) error {
	switch x.kind {
	case offsetAbsolute:
		c.cur = x.n
	case offsetForward:
		if x.n > maxOffset-c.cur {
			return errTooLarge
		}
		c.cur += x.n
	case offsetBackward:
		if x.n > c.cur {
			return x.errorf("@-%d would move before the start (the offset is %d)", x.n, c.cur)
		}
		c.cur -= x.n
	case offsetAlign:
		mask := x.n - 1
		if c.cur > maxOffset-mask {
			return errTooLarge
		}
		c.cur = (c.cur + mask) &^ mask
	}
	c.end = max(c.end, c.cur)
	return nil
}

// repeat writes x*N.
func (ev *evaluator) repeat(x *repeatNode, env *binding, c *canvas) error {
	if x.n == 0 {
		return nil // nbdkit does not evaluate what is repeated no times
	}
	if b, ok := x.x.(*byteNode); ok {
		return c.fill(b.b, x.n)
	}
	sub, err := ev.nested(x.x, env)
	if err != nil {
		return err
	}
	return c.repeat(sub, x.n, ev.canceled)
}

// slice writes x[N:M].
//
// Like nbdkit, a slice of a file or of a script (possibly in a group of its own) reads
// only the part it needs, and a slice of a file or a [:M] slice of a script stops at
// its end without complaint, so that </dev/urandom[:512] and <(yes)[:10] work.
// Other slices must lie within what they slice.
func (ev *evaluator) slice(x *sliceNode, env *binding, c *canvas) error {
	if x.hasEnd && x.start == x.end {
		return nil // nbdkit evaluates nothing for an empty slice
	}
	length := int64(-1) // up to the end
	if x.hasEnd {
		length = x.end - x.start
	}
	switch core := unwrap(x.x).(type) {
	case *fileNode:
		return ev.file(core, x.start, length, c)
	case *scriptNode:
		if x.start == 0 && !x.hasEnd {
			// nbdkit 1.32 reads none of the script's output for these: refuse
			// them rather than serve a disk that differs from nbdkit's.
			return x.errorf("%s of <(SCRIPT) reads nothing in nbdkit 1.32, not the whole output; leave the slice out", x.text)
		}
		if x.start == 0 {
			return ev.script(core, length, c)
		}
		if x.hasEnd {
			sub := newCanvas()
			if err := ev.script(core, x.end, sub); err != nil {
				return err
			}
			return sliceOf(x, sub, c)
		}
	}
	sub, err := ev.nested(x.x, env)
	if err != nil {
		return err
	}
	return sliceOf(x, sub, c)
}

// sliceOf writes the slice x of sub.
func sliceOf(x *sliceNode, sub, c *canvas) error {
	end := sub.end
	if x.hasEnd {
		end = x.end
	}
	if x.start > sub.end || end > sub.end {
		return x.errorf("%s is not within the %d bytes it slices", x.text, sub.end)
	}
	if err := c.copyFrom(sub, x.start, end-x.start); err != nil {
		return x.wrap(err, "slice")
	}
	return nil
}

// unwrap returns what x amounts to once groups of a single node and repetitions by 1
// are taken away, which nbdkit's optimizer does before it looks at a slice.
func unwrap(x node) node {
	for {
		switch y := x.(type) {
		case *groupNode:
			if len(y.body) != 1 {
				return x
			}
			x = y.body[0]
		case *repeatNode:
			if y.n != 1 {
				return x
			}
			x = y.x
		default:
			return x
		}
	}
}

// file writes the contents of a file from start on: at most length bytes, or up to the
// end if length is negative.
func (ev *evaluator) file(x *fileNode, start, length int64, c *canvas) error {
	name := x.name
	if ev.dir != "" && !filepath.IsAbs(name) {
		name = filepath.Join(ev.dir, name)
	}
	f, err := os.Open(name)
	if err != nil {
		return x.wrap(err, "<%s", x.name)
	}
	defer f.Close()
	if start > 0 {
		// A pipe or a terminal cannot seek: read up to the start instead.
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			if _, err := io.CopyN(io.Discard, f, start); err != nil && err != io.EOF {
				return x.wrap(err, "<%s", x.name)
			}
		}
	}
	var r io.Reader = f
	if length >= 0 {
		r = io.LimitReader(f, length)
	}
	if err := c.readFrom(r, ev.canceled); err != nil {
		return x.wrap(err, "<%s", x.name)
	}
	return nil
}
