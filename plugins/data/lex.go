package data

import (
	"encoding/binary"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/gonbd/gonbd/server"
)

// tokenKind is what a token is.
type tokenKind int

const (
	tokEnd    tokenKind = iota // the end of the text
	tokByte                    // a byte: n
	tokBytes                   // a string or an integer word: bytes
	tokOffset                  // @N, @+N, @-N, @^N: offset, n
	tokFile                    // <FILE: text
	tokScript                  // <(SCRIPT): text
	tokOpen                    // (
	tokClose                   // )
	tokRepeat                  // *N: n
	tokSlice                   // [N:M]: n, m, hasEnd, text (as written)
	tokAssign                  // -> \NAME: text
	tokName                    // \NAME: text
	tokVar                     // $VAR: text
)

// A token is one lexical element of the data language.
type token struct {
	kind   tokenKind
	off    int // where it starts in the source
	n, m   int64
	hasEnd bool
	offset offsetKind
	text   string
	bytes  []byte
}

// A lexer cuts a source into tokens. The language is simple enough that the first
// character of a token tells what it is, so the lexer needs no lookahead beyond the
// token it is reading.
type lexer struct {
	src *source
	s   string
	i   int // the next byte to read
}

func newLexer(src *source) *lexer {
	return &lexer{src: src, s: src.text}
}

// errorAt returns a syntax error at offset off of the source.
func (l *lexer) errorAt(off int, format string, args ...any) *Error {
	return pos{l.src, off}.errorf(format, args...)
}

// next returns the next token, skipping white space and comments.
func (l *lexer) next() (token, error) {
	for {
		l.skipSpace()
		if l.i < len(l.s) && l.s[l.i] == '#' {
			if end := strings.IndexByte(l.s[l.i:], '\n'); end >= 0 {
				l.i += end
			} else {
				l.i = len(l.s)
			}
			continue
		}
		break
	}
	start := l.i
	if start == len(l.s) {
		return token{kind: tokEnd, off: start}, nil
	}
	switch c := l.s[start]; {
	case c == '(':
		l.i++
		return token{kind: tokOpen, off: start}, nil
	case c == ')':
		l.i++
		return token{kind: tokClose, off: start}, nil
	case isDigit(c):
		return l.byteToken()
	case c == '"':
		return l.stringToken()
	case c == 'l' || c == 'b':
		return l.wordToken()
	case c == '@':
		return l.offsetToken()
	case c == '<':
		if strings.HasPrefix(l.s[start:], "<(") {
			return l.scriptToken()
		}
		return l.fileToken()
	case c == '*':
		return l.repeatToken()
	case c == '[':
		return l.sliceToken()
	case c == '-':
		return l.assignToken()
	case c == '\\':
		l.i++
		name := l.takeWhile(isNameChar)
		if name == "" {
			return token{}, l.errorAt(start, `\ must be followed by a name (letters, digits, '-' and '_')`)
		}
		return token{kind: tokName, off: start, text: name}, nil
	case c == '$':
		l.i++
		name := l.takeWhile(isVarChar)
		if name == "" {
			return token{}, l.errorAt(start, "$ must be followed by a variable name (letters, digits and '_')")
		}
		return token{kind: tokVar, off: start, text: name}, nil
	default:
		r, _ := utf8.DecodeRuneInString(l.s[start:])
		return token{}, l.errorAt(start, "unexpected %q: expected a byte, a string, @, <, (, ), *, [, ->, \\NAME, $VAR, le16: and the like, or #", r)
	}
}

// byteToken reads a byte in decimal, octal (leading 0) or hexadecimal (leading 0x).
func (l *lexer) byteToken() (token, error) {
	start := l.i
	n, _, err := l.integer(false)
	if err != nil {
		return token{}, err
	}
	if n > math.MaxUint8 {
		return token{}, l.errorAt(start, "byte %s is not in the range 0 to 255", l.s[start:l.i])
	}
	return token{kind: tokByte, off: start, n: n}, nil
}

// stringToken reads a string in double quotes, with C's escapes.
func (l *lexer) stringToken() (token, error) {
	start := l.i
	l.i++ // the opening quote
	var b []byte
	for {
		if l.i >= len(l.s) {
			return token{}, l.errorAt(start, `unterminated string: no closing "`)
		}
		switch c := l.s[l.i]; c {
		case '"':
			l.i++
			return token{kind: tokBytes, off: start, bytes: b}, nil
		case '\\':
			var err error
			if b, err = l.escape(b); err != nil {
				return token{}, err
			}
		default:
			b = append(b, c)
			l.i++
		}
	}
}

// escape reads the escape sequence at l.i (a backslash and what follows) and appends
// the bytes it stands for to b. Unknown escapes stand for the character after the
// backslash, as in nbdkit (so \U is U).
func (l *lexer) escape(b []byte) ([]byte, error) {
	start := l.i
	l.i++ // the backslash
	if l.i >= len(l.s) {
		return nil, l.errorAt(start, `unterminated string: it ends with \`)
	}
	c := l.s[l.i]
	l.i++
	switch c {
	case 'a':
		return append(b, '\a'), nil
	case 'b':
		return append(b, '\b'), nil
	case 'f':
		return append(b, '\f'), nil
	case 'n':
		return append(b, '\n'), nil
	case 'r':
		return append(b, '\r'), nil
	case 't':
		return append(b, '\t'), nil
	case 'v':
		return append(b, '\v'), nil
	case 'x':
		if l.i+2 > len(l.s) || !isHexDigit(l.s[l.i]) || !isHexDigit(l.s[l.i+1]) {
			return nil, l.errorAt(start, `\x must be followed by exactly two hexadecimal digits`)
		}
		v := hexValue(l.s[l.i])<<4 | hexValue(l.s[l.i+1])
		l.i += 2
		return append(b, v), nil
	case '0', '1', '2', '3', '4', '5', '6', '7':
		v := int(c - '0')
		for n := 1; n < 3 && l.i < len(l.s) && '0' <= l.s[l.i] && l.s[l.i] <= '7'; n++ {
			v = v<<3 | int(l.s[l.i]-'0')
			l.i++
		}
		if v > math.MaxUint8 {
			return nil, l.errorAt(start, "octal escape %s is more than \\377", l.s[start:l.i])
		}
		return append(b, byte(v)), nil
	case '8', '9':
		return nil, l.errorAt(start, `\%c is not an escape: octal escapes use the digits 0 to 7`, c)
	case 'u':
		var r rune
		for range 4 {
			if l.i == len(l.s) || !isHexDigit(l.s[l.i]) {
				return nil, l.errorAt(start, `\u must be followed by exactly four hexadecimal digits`)
			}
			r = r<<4 | rune(hexValue(l.s[l.i]))
			l.i++
		}
		if !utf8.ValidRune(r) {
			return nil, l.errorAt(start, `%s is not a Unicode character (it is a surrogate)`, l.s[start:l.i])
		}
		return utf8.AppendRune(b, r), nil
	}
	return append(b, c), nil
}

// wordToken reads an integer word: le16:, be16:, le32:, be32:, le64: or be64:
// followed by an unsigned integer, which runs up to the next white space.
func (l *lexer) wordToken() (token, error) {
	start := l.i
	colon := strings.IndexByte(l.s[start:min(start+5, len(l.s))], ':')
	prefix := ""
	if colon >= 0 {
		prefix = l.s[start : start+colon]
	}
	var bits int
	var order binary.AppendByteOrder
	switch prefix {
	case "le16", "le32", "le64":
		order = binary.LittleEndian
	case "be16", "be32", "be64":
		order = binary.BigEndian
	default:
		return token{}, l.errorAt(start, "expected le16:, be16:, le32:, be32:, le64: or be64:")
	}
	bits = int(prefix[2]-'0')*10 + int(prefix[3]-'0')
	l.i += len(prefix) + 1
	numStart := l.i
	// The number runs up to white space, as in nbdkit: (le16:1) does not work, but
	// ( le16:1 ) does. nbdkit's white space here leaves out the vertical tab.
	text := l.takeWhile(func(c byte) bool { return !isSpace(c) || c == '\v' })
	v, err := server.ParseUint(text, bits)
	if err != nil {
		hint := ""
		if strings.ContainsAny(text, "()[]*#\"\\$@<") {
			hint = " (the number of a word runs up to white space)"
		}
		return token{}, l.errorAt(numStart, "%s:%s: %v%s", prefix, text, err, hint)
	}
	var b []byte
	switch bits {
	case 16:
		b = order.AppendUint16(nil, uint16(v))
	case 32:
		b = order.AppendUint32(nil, uint32(v))
	default:
		b = order.AppendUint64(nil, v)
	}
	return token{kind: tokBytes, off: start, bytes: b}, nil
}

// offsetToken reads @N, @+N, @-N or @^N.
func (l *lexer) offsetToken() (token, error) {
	start := l.i
	l.i++ // @
	t := token{kind: tokOffset, off: start, offset: offsetAbsolute}
	form := "@"
	if l.i < len(l.s) {
		switch l.s[l.i] {
		case '+':
			t.offset, form = offsetForward, "@+"
		case '-':
			t.offset, form = offsetBackward, "@-"
		case '^':
			t.offset, form = offsetAlign, "@^"
		}
	}
	if t.offset == offsetAbsolute {
		// @ must be followed by the number itself; the other forms, like nbdkit's
		// scanf, let white space and a sign come between.
		if l.i == len(l.s) || !isDigit(l.s[l.i]) {
			return token{}, l.errorAt(start, "@ must be followed by an offset, +N, -N or ^N")
		}
	} else {
		l.i++
	}
	n, ok, err := l.integer(true)
	switch {
	case err != nil:
		return token{}, err
	case !ok:
		return token{}, l.errorAt(start, "%s must be followed by a number", form)
	case n < 0:
		return token{}, l.errorAt(start, "%s%d: the number must not be negative", form, n)
	case t.offset == offsetAlign && (n == 0 || n&(n-1) != 0):
		return token{}, l.errorAt(start, "@^%d: the alignment must be a power of 2", n)
	}
	t.n = n
	return t, nil
}

// fileToken reads <FILE. The name runs up to white space, '[', '*' or ')', as in
// nbdkit.
func (l *lexer) fileToken() (token, error) {
	start := l.i
	l.i++ // <
	name := l.takeWhile(func(c byte) bool { return !strings.ContainsRune(" \t\n[*)", rune(c)) })
	if name == "" {
		return token{}, l.errorAt(start, "< must be followed by a file name (<FILE) or a script (<(SCRIPT))")
	}
	return token{kind: tokFile, off: start, text: name}, nil
}

// scriptToken reads <(SCRIPT): the script runs up to the ')' that matches the '(', so
// it may hold parentheses in pairs.
func (l *lexer) scriptToken() (token, error) {
	start := l.i
	l.i += 2 // <(
	depth := 1
	for j := l.i; j < len(l.s); j++ {
		switch l.s[j] {
		case '(':
			depth++
		case ')':
			depth--
		}
		if depth == 0 {
			script := l.s[l.i:j]
			l.i = j + 1
			if script == "" {
				return token{}, l.errorAt(start, "<() holds no script")
			}
			return token{kind: tokScript, off: start, text: script}, nil
		}
	}
	return token{}, l.errorAt(start, "unterminated <(SCRIPT): no ')' matches the '('")
}

// repeatToken reads *N.
func (l *lexer) repeatToken() (token, error) {
	start := l.i
	l.i++ // *
	n, ok, err := l.integer(true)
	switch {
	case err != nil:
		return token{}, err
	case !ok:
		return token{}, l.errorAt(start, "* must be followed by a number of times (*N)")
	case n < 0:
		return token{}, l.errorAt(start, "*%d: the number of times is negative", n)
	}
	return token{kind: tokRepeat, off: start, n: n}, nil
}

// sliceToken reads [N:M], [N:], [:M] or [:]. Like nbdkit's scanf, it allows white space
// before each number and nowhere else.
func (l *lexer) sliceToken() (token, error) {
	start := l.i
	l.i++ // [
	t := token{kind: tokSlice, off: start}
	const form = "a slice must be [N:M], [N:], [:M] or [:]"
	if l.i < len(l.s) && l.s[l.i] != ':' {
		n, ok, err := l.integer(true)
		if err != nil {
			return token{}, err
		}
		if !ok {
			return token{}, l.errorAt(start, "%s, with numbers for N and M", form)
		}
		t.n = n
	}
	if l.i >= len(l.s) || l.s[l.i] != ':' {
		return token{}, l.errorAt(l.i, "%s: expected ':'", form)
	}
	l.i++
	if l.i < len(l.s) && l.s[l.i] != ']' {
		m, ok, err := l.integer(true)
		if err != nil {
			return token{}, err
		}
		if !ok {
			return token{}, l.errorAt(start, "%s, with numbers for N and M", form)
		}
		t.m, t.hasEnd = m, true
	}
	if l.i >= len(l.s) || l.s[l.i] != ']' {
		return token{}, l.errorAt(l.i, "%s: expected ']'", form)
	}
	l.i++
	t.text = l.s[start:l.i]
	switch {
	case t.n < 0 || t.hasEnd && t.m < 0:
		return token{}, l.errorAt(start, "%s: a slice cannot have a negative bound", t.text)
	case t.hasEnd && t.m < t.n:
		return token{}, l.errorAt(start, "%s: a slice cannot end before it starts", t.text)
	}
	return t, nil
}

// assignToken reads -> \NAME.
func (l *lexer) assignToken() (token, error) {
	start := l.i
	if !strings.HasPrefix(l.s[start:], "->") {
		return token{}, l.errorAt(start, `unexpected '-': expected -> \NAME`)
	}
	l.i += 2
	l.skipSpace()
	if l.i == len(l.s) || l.s[l.i] != '\\' {
		return token{}, l.errorAt(l.i, `-> must be followed by \NAME`)
	}
	l.i++
	name := l.takeWhile(isNameChar)
	if name == "" {
		return token{}, l.errorAt(l.i-1, `-> must be followed by \NAME (letters, digits, '-' and '_')`)
	}
	return token{kind: tokAssign, off: start, text: name}, nil
}

// integer reads an integer at l.i as C's scanf %li reads it, which is how nbdkit reads
// the numbers of the data language: an optional sign, then hexadecimal after 0x,
// octal after 0, or decimal. skipSpace lets white space come first. It returns ok
// false, having read nothing, when there is no number. scanf's quirks are kept: "0x"
// with no hexadecimal digit after it is 0, and "08" is 0 followed by 8.
func (l *lexer) integer(skipSpace bool) (n int64, ok bool, err error) {
	start := l.i
	if skipSpace {
		l.skipSpace()
	}
	numStart := l.i
	negative := false
	if l.i < len(l.s) && (l.s[l.i] == '+' || l.s[l.i] == '-') {
		negative = l.s[l.i] == '-'
		l.i++
	}
	if l.i == len(l.s) || !isDigit(l.s[l.i]) {
		l.i = start
		return 0, false, nil
	}
	base := uint64(10)
	if l.s[l.i] == '0' {
		base = 8
		if l.i+1 < len(l.s) && (l.s[l.i+1] == 'x' || l.s[l.i+1] == 'X') {
			base = 16
			l.i += 2
		}
	}
	var magnitude uint64
	overflow := false
	for ; l.i < len(l.s); l.i++ {
		d := uint64(hexValue(l.s[l.i]))
		if !isHexDigit(l.s[l.i]) || d >= base {
			break
		}
		if magnitude > (math.MaxUint64-d)/base {
			overflow = true
		}
		magnitude = magnitude*base + d
	}
	text := l.s[numStart:l.i]
	switch {
	case overflow || !negative && magnitude > math.MaxInt64 || negative && magnitude > 1<<63:
		return 0, false, l.errorAt(numStart, "number %s is out of range", text)
	case negative:
		return -int64(magnitude), true, nil
	}
	return int64(magnitude), true, nil
}

// skipSpace skips what C's isspace calls white space.
func (l *lexer) skipSpace() {
	for l.i < len(l.s) && isSpace(l.s[l.i]) {
		l.i++
	}
}

// takeWhile returns the bytes from l.i on for which ok holds, and skips them.
func (l *lexer) takeWhile(ok func(byte) bool) string {
	start := l.i
	for l.i < len(l.s) && ok(l.s[l.i]) {
		l.i++
	}
	return l.s[start:l.i]
}

func isSpace(c byte) bool {
	return c == ' ' || '\t' <= c && c <= '\r' // \t \n \v \f \r
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHexDigit(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// hexValue returns the value of a hexadecimal digit, 0 for anything else.
func hexValue(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}

func isLetterOrDigit(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// isNameChar reports whether c may be in a \NAME.
func isNameChar(c byte) bool { return isLetterOrDigit(c) || c == '-' || c == '_' }

// isVarChar reports whether c may be in a $VAR.
func isVarChar(c byte) bool { return isLetterOrDigit(c) || c == '_' }
