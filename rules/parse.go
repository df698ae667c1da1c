package rules

import (
	"fmt"
	"strconv"
	"strings"
)

// reserved are the keywords that cannot be bare names.
var reserved = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "AS": true,
	"AND": true, "OR": true, "NOT": true, "TRUE": true, "FALSE": true, "NULL": true,
}

func isReserved(t token) bool {
	return t.kind == tIdent && reserved[strings.ToUpper(t.val)]
}

type parser struct {
	src   string
	toks  []token
	p     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.p] }

func (p *parser) next() token {
	t := p.toks[p.p]
	if t.kind != tEOF {
		p.p++
	}
	return t
}

// expected returns an error at the current token.
func (p *parser) expected(what string) *ParseError {
	t := p.peek()
	return newError(p.src, t.pos, what, p.src[t.pos:t.end], "")
}

func (p *parser) errorAt(t token, format string, args ...any) *ParseError {
	return newError(p.src, t.pos, "", "", fmt.Sprintf(format, args...))
}

func (p *parser) statement() (*Statement, *ParseError) {
	if !p.peek().is("SELECT") {
		return nil, p.expected("SELECT")
	}
	p.next()
	st := &Statement{src: p.src}
	for {
		it, err := p.selectItem(len(st.items) + 1)
		if err != nil {
			return nil, err
		}
		st.items = append(st.items, it)
		if !p.peek().isPunct(",") {
			break
		}
		p.next()
	}
	if !p.peek().is("FROM") {
		return nil, p.expected("',' or FROM")
	}
	p.next()
	t := p.peek()
	if t.kind != tString {
		return nil, p.expected("a topic filter in single quotes")
	}
	p.next()
	filter, msg := splitFilter(t.val)
	if msg != "" {
		return nil, p.errorAt(t, "invalid topic filter %q: %s", t.val, msg)
	}
	st.topic, st.filter = t.val, filter
	if p.peek().is("WHERE") {
		p.next()
		w, err := p.expr()
		if err != nil {
			return nil, err
		}
		st.where = w
	}
	if p.peek().kind != tEOF {
		if st.where == nil {
			return nil, p.expected("WHERE or end of statement")
		}
		return nil, p.expected("an operator or end of statement")
	}
	return st, nil
}

// splitFilter checks an MQTT topic filter and splits it into levels.
func splitFilter(f string) ([]string, string) {
	if f == "" {
		return nil, "empty"
	}
	if strings.HasPrefix(f, "$share/") {
		return nil, "shared subscriptions are not allowed here"
	}
	if strings.IndexByte(f, 0) >= 0 {
		return nil, "contains a NUL character"
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return nil, "'#' must be the last level"
		case l != "#" && l != "+" && strings.ContainsAny(l, "#+"):
			return nil, "wildcards '+' and '#' must fill a whole level"
		}
	}
	return levels, ""
}

func (p *parser) selectItem(n int) (selectItem, *ParseError) {
	e, err := p.expr()
	if err != nil {
		return selectItem{}, err
	}
	it := selectItem{expr: e}
	if p.peek().is("AS") {
		p.next()
		t := p.peek()
		if (t.kind != tIdent && t.kind != tQIdent) || isReserved(t) {
			return selectItem{}, p.expected("a name after AS")
		}
		p.next()
		it.name = t.val
		return it, nil
	}
	switch e := e.(type) {
	case rootNode:
		// a bare *: members merged
	case fieldNode:
		it.name = e.name
	case memberNode:
		it.name = e.name
	default:
		it.name = "_" + strconv.Itoa(n)
	}
	return it, nil
}

func (p *parser) enter() *ParseError {
	p.depth++
	if p.depth > MaxNesting {
		return p.errorAt(p.peek(), "expression nested more than %d levels deep", MaxNesting)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) expr() (node, *ParseError) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	return p.or()
}

func (p *parser) or() (node, *ParseError) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek().is("OR") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &binaryNode{op: opOr, l: l, r: r}
	}
	return l, nil
}

func (p *parser) and() (node, *ParseError) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.peek().is("AND") {
		p.next()
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = &binaryNode{op: opAnd, l: l, r: r}
	}
	return l, nil
}

func (p *parser) not() (node, *ParseError) {
	if !p.peek().is("NOT") {
		return p.comparison()
	}
	p.next()
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	x, err := p.not()
	if err != nil {
		return nil, err
	}
	return &notNode{x: x}, nil
}

var comparisonOps = map[string]op{"=": opEq, "<>": opNe, "!=": opNe, "<": opLt, "<=": opLe, ">": opGt, ">=": opGe}

func (p *parser) comparison() (node, *ParseError) {
	l, err := p.additive()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		o, ok := comparisonOps[t.val]
		if t.kind != tPunct || !ok {
			return l, nil
		}
		p.next()
		r, err := p.additive()
		if err != nil {
			return nil, err
		}
		l = &binaryNode{op: o, l: l, r: r}
	}
}

func (p *parser) additive() (node, *ParseError) {
	l, err := p.multiplicative()
	if err != nil {
		return nil, err
	}
	for {
		var o op
		switch t := p.peek(); {
		case t.isPunct("+"):
			o = opAdd
		case t.isPunct("-"):
			o = opSub
		default:
			return l, nil
		}
		p.next()
		r, err := p.multiplicative()
		if err != nil {
			return nil, err
		}
		l = &binaryNode{op: o, l: l, r: r}
	}
}

func (p *parser) multiplicative() (node, *ParseError) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		var o op
		switch t := p.peek(); {
		case t.isPunct("*"):
			o = opMul
		case t.isPunct("/"):
			o = opDiv
		case t.isPunct("%"):
			o = opMod
		default:
			return l, nil
		}
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &binaryNode{op: o, l: l, r: r}
	}
}

func (p *parser) unary() (node, *ParseError) {
	if !p.peek().isPunct("-") {
		return p.postfix()
	}
	p.next()
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	// A minus before a number literal is part of the literal.
	if t := p.peek(); t.kind == tNumber {
		p.next()
		return numberLiteral(p, t, "-"+t.val)
	}
	x, err := p.unary()
	if err != nil {
		return nil, err
	}
	if l, ok := x.(literal); ok && (l.v.k == kInt || l.v.k == kFloat) {
		// fold, so that the canonical form is stable: - -1 is 1
		return literal{v: (&negNode{x: l}).eval(nil)}, nil
	}
	return &negNode{x: x}, nil
}

func (p *parser) postfix() (node, *ParseError) {
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		switch t := p.peek(); {
		case t.isPunct("."):
			p.next()
			n := p.peek()
			if (n.kind != tIdent && n.kind != tQIdent) || isReserved(n) {
				return nil, p.expected("a name after '.'")
			}
			p.next()
			x = memberNode{x: x, name: n.val}
		case t.isPunct("["):
			p.next()
			i, err := p.expr()
			if err != nil {
				return nil, err
			}
			if !p.peek().isPunct("]") {
				return nil, p.expected("']'")
			}
			p.next()
			x = &indexNode{x: x, i: i}
		default:
			return x, nil
		}
	}
}

func (p *parser) primary() (node, *ParseError) {
	t := p.peek()
	switch {
	case t.kind == tNumber:
		p.next()
		return numberLiteral(p, t, t.val)
	case t.kind == tString:
		p.next()
		return literal{v: value{k: kString, s: t.val}}, nil
	case t.is("TRUE"), t.is("FALSE"):
		p.next()
		return literal{v: value{k: kBool, b: t.is("TRUE")}}, nil
	case t.is("NULL"):
		p.next()
		return literal{v: value{k: kNull}}, nil
	case t.isPunct("*"):
		p.next()
		return rootNode{}, nil
	case t.isPunct("("):
		p.next()
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if !p.peek().isPunct(")") {
			return nil, p.expected("')'")
		}
		p.next()
		return x, nil
	case t.kind == tQIdent:
		p.next()
		return fieldNode{name: t.val}, nil
	case t.kind == tIdent && !isReserved(t):
		p.next()
		if p.peek().isPunct("(") {
			return p.call(t)
		}
		return fieldNode{name: t.val}, nil
	}
	return nil, p.expected("an expression")
}

func numberLiteral(p *parser, t token, text string) (node, *ParseError) {
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		return literal{v: value{k: kInt, i: i}}, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil, p.errorAt(t, "number %s out of range", text)
	}
	return literal{v: value{k: kFloat, f: f}}, nil
}

func (p *parser) call(name token) (node, *ParseError) {
	p.next() // (
	spec, ok := functions[strings.ToLower(name.val)]
	if !ok {
		return nil, p.errorAt(name, "unknown function %s()", name.val)
	}
	var args []node
	if !p.peek().isPunct(")") {
		for {
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if !p.peek().isPunct(",") {
				break
			}
			p.next()
		}
		if !p.peek().isPunct(")") {
			return nil, p.expected("',' or ')'")
		}
	}
	p.next() // )
	if len(args) < spec.min || (spec.max >= 0 && len(args) > spec.max) {
		return nil, p.errorAt(name, "%s() takes %s, got %d", strings.ToLower(name.val), spec.arity(), len(args))
	}
	return &callNode{name: strings.ToLower(name.val), fn: spec.fn, args: args}, nil
}

// canonical renders the statement fully parenthesized, with every item's
// resolved name; the golden tests compare it.
func (s *Statement) canonical() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, it := range s.items {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(it.expr.String())
		if it.name != "" {
			b.WriteString(" AS " + quoteName(it.name))
		}
	}
	b.WriteString(" FROM '" + strings.ReplaceAll(s.topic, "'", "''") + "'")
	if s.where != nil {
		b.WriteString(" WHERE " + s.where.String())
	}
	return b.String()
}
