package rules

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF    tokKind = iota
	tIdent          // name or keyword; val is the name
	tQIdent         // "quoted name"; val is the name, never a keyword
	tString         // 'text'; val is the text with '' unescaped
	tNumber         // 12, 1.5, 2e3; val is the literal
	tPunct          // operators and punctuation; val is the operator
)

// token is one lexical token; pos is its byte offset in the source.
type token struct {
	kind tokKind
	pos  int
	end  int
	val  string
}

// is reports whether t is the keyword kw (upper case), case-insensitively.
func (t token) is(kw string) bool {
	return t.kind == tIdent && strings.EqualFold(t.val, kw)
}

// isPunct reports whether t is the operator or punctuation p.
func (t token) isPunct(p string) bool { return t.kind == tPunct && t.val == p }

// lex splits src into tokens, ending with a tEOF token.
func lex(src string) ([]token, *ParseError) {
	var toks []token
	i := 0
	for {
		for i < len(src) && isSpace(src[i]) {
			i++
		}
		if i >= len(src) {
			toks = append(toks, token{kind: tEOF, pos: len(src), end: len(src)})
			return toks, nil
		}
		start := i
		c := src[i]
		switch {
		case isIdentStart(c):
			for i < len(src) && isIdentPart(src[i]) {
				i++
			}
			toks = append(toks, token{kind: tIdent, pos: start, end: i, val: src[start:i]})
		case c >= '0' && c <= '9':
			i = lexNumber(src, i)
			if i < len(src) && isIdentPart(src[i]) {
				return nil, newError(src, i, "", "", fmt.Sprintf("unexpected %s after the number %s", quoteRune(src, i), src[start:i]))
			}
			toks = append(toks, token{kind: tNumber, pos: start, end: i, val: src[start:i]})
		case c == '\'' || c == '"':
			val, end, ok := lexQuoted(src, i, c)
			if !ok {
				what := "string"
				if c == '"' {
					what = "quoted name"
				}
				return nil, newError(src, start, "", "", fmt.Sprintf("unterminated %s: missing closing %c", what, c))
			}
			kind := tString
			if c == '"' {
				kind = tQIdent
				if val == "" {
					return nil, newError(src, start, "", "", "empty quoted name")
				}
			}
			i = end
			toks = append(toks, token{kind: kind, pos: start, end: i, val: val})
		default:
			op := ""
			for _, p := range []string{"<>", "!=", "<=", ">=", "=", "<", ">", "+", "-", "*", "/", "%", "(", ")", ",", ".", "[", "]"} {
				if strings.HasPrefix(src[i:], p) {
					op = p
					break
				}
			}
			if op == "" {
				return nil, newError(src, i, "", "", "unexpected character "+quoteRune(src, i))
			}
			i += len(op)
			toks = append(toks, token{kind: tPunct, pos: start, end: i, val: op})
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// lexNumber returns the end of the number starting at src[i] (a digit):
// digits, an optional fraction, an optional exponent.
func lexNumber(src string, i int) int {
	digits := func(i int) int {
		for i < len(src) && src[i] >= '0' && src[i] <= '9' {
			i++
		}
		return i
	}
	i = digits(i)
	if i+1 < len(src) && src[i] == '.' && src[i+1] >= '0' && src[i+1] <= '9' {
		i = digits(i + 1)
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		j := i + 1
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if j < len(src) && src[j] >= '0' && src[j] <= '9' {
			i = digits(j)
		}
	}
	return i
}

// lexQuoted reads a string quoted with q starting at src[i]; a doubled
// quote stands for one.
func lexQuoted(src string, i int, q byte) (val string, end int, ok bool) {
	var b strings.Builder
	i++
	start := i
	for i < len(src) {
		if src[i] != q {
			i++
			continue
		}
		if i+1 < len(src) && src[i+1] == q {
			b.WriteString(src[start : i+1])
			i += 2
			start = i
			continue
		}
		if b.Len() == 0 {
			return src[start:i], i + 1, true
		}
		b.WriteString(src[start:i])
		return b.String(), i + 1, true
	}
	return "", 0, false
}

// quoteRune renders the character at src[i] for an error message.
func quoteRune(src string, i int) string {
	r, _ := utf8.DecodeRuneInString(src[i:])
	return fmt.Sprintf("%q", r)
}
