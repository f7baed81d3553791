package data

import "slices"

// parser builds the syntax tree of the data parameter, expanding each $VAR into a group
// holding the tree of its value.
type parser struct {
	// lookup returns the value of a variable.
	lookup func(name string) (string, bool)
	// expanding holds the variables being expanded, outermost first, to refuse a
	// variable that refers to itself.
	expanding []string
}

// parse returns the syntax tree of text, the data parameter. lookup returns the value
// of a $VAR; nil means there are no variables.
func parse(text string, lookup func(name string) (string, bool)) ([]node, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	p := &parser{lookup: lookup}
	return p.sequence(newLexer(&source{text: text}), nil)
}

// sequence parses nodes up to the end of the lexer's source when open is nil, or up to
// the ')' that closes the '(' open.
func (p *parser) sequence(l *lexer, open *token) ([]node, error) {
	var body []node
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		at := pos{l.src, t.off}
		switch t.kind {
		case tokEnd:
			if open != nil {
				return nil, l.errorAt(open.off, "unmatched '(': no ')' closes it")
			}
			return body, nil
		case tokClose:
			if open == nil {
				return nil, l.errorAt(t.off, "unmatched ')': no '(' opens it")
			}
			return body, nil
		case tokOpen:
			inner, err := p.sequence(l, &t)
			if err != nil {
				return nil, err
			}
			body = append(body, &groupNode{pos: at, body: inner})
		case tokByte:
			body = append(body, &byteNode{pos: at, b: byte(t.n)})
		case tokBytes:
			body = append(body, &bytesNode{pos: at, b: t.bytes})
		case tokOffset:
			body = append(body, &offsetNode{pos: at, kind: t.offset, n: t.n})
		case tokFile:
			body = append(body, &fileNode{pos: at, name: t.text})
		case tokScript:
			body = append(body, &scriptNode{pos: at, script: t.text})
		case tokName:
			body = append(body, &nameNode{pos: at, name: t.text})
		case tokVar:
			group, err := p.variable(at, t.text)
			if err != nil {
				return nil, err
			}
			body = append(body, group)
		case tokRepeat, tokSlice, tokAssign:
			if err := applyPostfix(body, t, at); err != nil {
				return nil, err
			}
		}
	}
}

// applyPostfix applies *N, [N:M] or -> \NAME to the last node of body, in place.
func applyPostfix(body []node, t token, at pos) error {
	what := `-> \NAME (assignment)`
	switch t.kind {
	case tokRepeat:
		what = "*N (repeat)"
	case tokSlice:
		what = "[N:M] (slice)"
	}
	if len(body) == 0 {
		return at.errorf("%s must follow an expression", what)
	}
	x := body[len(body)-1]
	if _, ok := x.(*offsetNode); ok {
		return at.errorf("%s cannot be applied to an offset (@); put it in a group: ( @... )", what)
	}
	switch t.kind {
	case tokRepeat:
		x = &repeatNode{pos: at, x: x, n: t.n}
	case tokSlice:
		x = &sliceNode{pos: at, x: x, start: t.n, end: t.m, hasEnd: t.hasEnd, text: t.text}
	default:
		x = &assignNode{pos: at, x: x, name: t.text}
	}
	body[len(body)-1] = x
	return nil
}

// variable parses the value of $name, referred to at at, into a group.
func (p *parser) variable(at pos, name string) (node, error) {
	value, ok := p.lookup(name)
	if !ok {
		return nil, at.errorf("$%s: variable not found (give it as a parameter, %s=..., or set it in the environment)", name, name)
	}
	if slices.Contains(p.expanding, name) {
		return nil, at.errorf("$%s refers to itself", name)
	}
	p.expanding = append(p.expanding, name)
	defer func() { p.expanding = p.expanding[:len(p.expanding)-1] }()
	body, err := p.sequence(newLexer(&source{variable: name, text: value, from: &at}), nil)
	if err != nil {
		return nil, err
	}
	return &groupNode{pos: at, body: body}, nil
}
