package data

// The parser turns the data parameter into a tree of nodes; the evaluator walks it and
// writes the disk. A sequence of nodes ([]node) is the data parameter itself, the inside
// of ( ... ) and the value of a $VAR; every node starts at a pos, for error messages.
type node interface {
	at() pos
}

// byteNode writes one byte: 0x55, 85, 0125.
type byteNode struct {
	pos
	b byte
}

// bytesNode writes a string of bytes: "a string" or an integer word such as le32:1.
type bytesNode struct {
	pos
	b []byte
}

// offsetKind tells the four forms of @ apart.
type offsetKind int

const (
	offsetAbsolute offsetKind = iota // @N
	offsetForward                    // @+N
	offsetBackward                   // @-N
	offsetAlign                      // @^N, N a power of 2
)

// offsetNode moves the offset where the next bytes are written.
type offsetNode struct {
	pos
	kind offsetKind
	n    int64
}

// fileNode writes the contents of a file: <FILE.
type fileNode struct {
	pos
	name string
}

// scriptNode writes the output of a shell script: <(SCRIPT).
type scriptNode struct {
	pos
	script string
}

// groupNode is ( ... ) or the value of a $VAR: its nodes are written into a disk of
// their own, with offsets from its start and names of their own, which is then written
// as a whole.
type groupNode struct {
	pos
	body []node
}

// repeatNode writes x n times: x*N.
type repeatNode struct {
	pos
	x node
	n int64
}

// sliceNode writes the bytes start to end (excluded) of x: x[N:M], x[N:], x[:M], x[:].
type sliceNode struct {
	pos
	x      node
	start  int64
	end    int64
	hasEnd bool   // false for x[N:] and x[:]: up to the end of x
	text   string // [N:M] as written, for error messages
}

// assignNode names x for the nodes that follow it in its sequence: x -> \NAME. It writes
// nothing itself.
type assignNode struct {
	pos
	x    node
	name string
}

// nameNode writes what an earlier assignment named: \NAME.
type nameNode struct {
	pos
	name string
}

func (p pos) at() pos { return p }
