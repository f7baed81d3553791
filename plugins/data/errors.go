package data

import (
	"fmt"
	"strings"
)

// An Error is a mistake in a data expression: a syntax error found when the expression
// is parsed, or one found when it is evaluated (an undefined \NAME, a slice past the end
// of what it slices, a file that cannot be read, a script that fails). It says where the
// mistake is.
type Error struct {
	// Where locates the mistake, outermost first: the first Location is in the data
	// parameter; when the mistake is inside the value of a $VAR, the next one is in that
	// value, and so on for variables within variables.
	Where []Location
	// Msg says what is wrong; it is empty when Err says it all.
	Msg string
	// Err is the underlying error, such as the one from opening a file, or nil.
	Err error
}

// A Location is a byte offset, from 0, in the data parameter or in the value of a
// variable.
type Location struct {
	// Variable is the variable whose value the offset is in, "" for the data
	// parameter itself.
	Variable string
	// Offset is the byte offset in that text.
	Offset int
	// Near is the text at Offset, cut short, to show the reader where it is.
	Near string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("data parameter")
	for i, loc := range e.Where {
		if i > 0 {
			fmt.Fprintf(&b, ", in $%s", loc.Variable)
		}
		fmt.Fprintf(&b, " at offset %d", loc.Offset)
		if loc.Near == "" {
			b.WriteString(" (the end)")
		} else {
			fmt.Fprintf(&b, " (%q)", loc.Near)
		}
	}
	for _, part := range []string{e.Msg, errorText(e.Err)} {
		if part != "" {
			b.WriteString(": ")
			b.WriteString(part)
		}
	}
	return b.String()
}

func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Unwrap returns the underlying error, so that errors.Is(err, fs.ErrNotExist) holds for
// a missing file.
func (e *Error) Unwrap() error { return e.Err }

// nearLength is how much of the text at an error's offset the message quotes.
const nearLength = 16

// A source is a text the parser reads: the data parameter, or the value of a variable
// it refers to.
type source struct {
	variable string // "" for the data parameter
	text     string
	// from is where the variable was referred to; nil for the data parameter.
	from *pos
}

// A pos is where something is in the data: an offset in a source. Every node of the
// syntax tree keeps one, for the errors found when it is evaluated.
type pos struct {
	src *source
	off int
}

// errorf returns an *Error at p.
func (p pos) errorf(format string, args ...any) *Error {
	return &Error{Where: p.trace(), Msg: fmt.Sprintf(format, args...)}
}

// wrap returns an *Error at p whose cause is err.
func (p pos) wrap(err error, format string, args ...any) *Error {
	e := p.errorf(format, args...)
	e.Err = err
	return e
}

// trace returns the locations from the data parameter down to p.
func (p pos) trace() []Location {
	var trace []Location
	if p.src.from != nil {
		trace = p.src.from.trace()
	}
	near := p.src.text[min(p.off, len(p.src.text)):]
	if len(near) > nearLength {
		near = near[:nearLength] + "…"
	}
	return append(trace, Location{Variable: p.src.variable, Offset: p.off, Near: near})
}
