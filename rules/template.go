package rules

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Template is a string with substitutions, as used by action options
// (a republish topic, for instance): every `${expr}` is replaced by the
// value of the expression expr, in the same dialect as SELECT items. An
// engine renders a template against the rule's output (the selected row,
// as the payload) together with the message's topic, client id and time,
// so `${chargePointId}` is the selected field chargePointId and
// `${topic(1)}` the first level of the message's topic. Strings are
// inserted as they are, numbers and booleans in their JSON form, objects and
// arrays as JSON, and Undefined as nothing. A template is immutable and
// safe for concurrent use.
type Template struct {
	src   string
	parts []tmplPart
}

type tmplPart struct {
	lit  string
	expr node // nil for a literal part
}

// ParseTemplate parses a template. Errors are *ParseError with positions
// in s.
func ParseTemplate(s string) (*Template, error) {
	if len(s) > MaxStatementLen {
		return nil, newError(s, 0, "", "", fmt.Sprintf("template is %d bytes, more than the %d allowed", len(s), MaxStatementLen))
	}
	if !utf8.ValidString(s) {
		return nil, newError(s, 0, "", "", "template is not valid UTF-8")
	}
	t := &Template{src: s}
	rest, off := s, 0
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, tmplPart{lit: rest})
			}
			return t, nil
		}
		if i > 0 {
			t.parts = append(t.parts, tmplPart{lit: rest[:i]})
		}
		start := off + i + 2 // the expression's offset in s
		end := exprEnd(s, start)
		if end < 0 {
			return nil, newError(s, off+i, "", "", "unterminated ${")
		}
		n, perr := parseExprAt(s, start, end)
		if perr != nil {
			return nil, perr
		}
		t.parts = append(t.parts, tmplPart{expr: n})
		off = end + 1
		rest = s[off:]
	}
}

// exprEnd returns the offset of the '}' closing the substitution whose
// expression starts at start, skipping quoted strings and names; -1 if there
// is none.
func exprEnd(s string, start int) int {
	var quote byte
	for i := start; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				if i+1 < len(s) && s[i+1] == quote { // doubled: an escaped quote
					i++
					continue
				}
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '}':
			return i
		}
	}
	return -1
}

// parseExprAt parses src[start:end] as one expression, reporting errors at
// their position in src.
func parseExprAt(src string, start, end int) (node, *ParseError) {
	sub := src[start:end]
	relocate := func(e *ParseError) *ParseError {
		// Re-render the error at its position in the whole template.
		off := 0
		for n := e.Pos - 1; n > 0 && off < len(sub); n-- {
			_, size := utf8.DecodeRuneInString(sub[off:])
			off += size
		}
		return newError(src, start+off, e.Expected, e.Found, e.Message)
	}
	if strings.TrimSpace(sub) == "" {
		return nil, newError(src, start, "an expression", "}", "")
	}
	toks, perr := lex(sub)
	if perr != nil {
		return nil, relocate(perr)
	}
	p := &parser{src: sub, toks: toks}
	n, perr := p.expr()
	if perr != nil {
		return nil, relocate(perr)
	}
	if p.peek().kind != tEOF {
		return nil, relocate(p.expected("an operator or }"))
	}
	return n, nil
}

// String returns the template as written.
func (t *Template) String() string { return t.src }

// IsLiteral reports whether the template has no substitutions.
func (t *Template) IsLiteral() bool {
	for _, p := range t.parts {
		if p.expr != nil {
			return false
		}
	}
	return true
}

// Render returns the template with its substitutions evaluated against in.
func (t *Template) Render(in Input) string {
	if len(t.parts) == 1 && t.parts[0].expr == nil {
		return t.parts[0].lit
	}
	c := ctxPool.Get().(*evalCtx)
	c.in = in
	defer func() {
		*c = evalCtx{}
		ctxPool.Put(c)
	}()
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.lit)
			continue
		}
		x, ok := p.expr.eval(c).toGo()
		if !ok {
			continue // Undefined: nothing
		}
		b.WriteString(formatValue(x))
	}
	return b.String()
}

// formatValue renders a Go value of a Row as template text.
func formatValue(x any) string {
	switch v := x.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	b, err := json.Marshal(x)
	if err != nil {
		return ""
	}
	return string(b)
}

// renderInput is the input a template of an action sees: the rule's output
// as the payload, with the message's topic, client id and time.
func renderInput(rowJSON []byte, topic, clientID string, at time.Time) Input {
	return Input{Topic: topic, Payload: rowJSON, ClientID: clientID, Timestamp: at}
}
