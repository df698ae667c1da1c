package rules

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expectations of the golden files in testdata/")

// goldenCase is one case of a golden file.
type goldenCase struct {
	name, input, want string
}

// readGolden reads a file of cases: "=== name", input lines, "---",
// expected lines. Lines starting with '#' before the first case are a
// header, kept on rewrite.
func readGolden(t testing.TB, path string) (header string, cases []goldenCase) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cur *goldenCase
	var in, want []string
	inWant := false
	flush := func() {
		if cur != nil {
			cur.input = strings.Join(in, "\n")
			cur.want = strings.Join(want, "\n")
			cases = append(cases, *cur)
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "=== "):
			flush()
			cur, in, want, inWant = &goldenCase{name: strings.TrimPrefix(line, "=== ")}, nil, nil, false
		case cur == nil:
			header += line + "\n"
		case line == "---" && !inWant:
			inWant = true
		case inWant:
			want = append(want, line)
		default:
			in = append(in, line)
		}
	}
	flush()
	return header, cases
}

func writeGolden(t testing.TB, path, header string, cases []goldenCase) {
	t.Helper()
	var b strings.Builder
	b.WriteString(header)
	for _, c := range cases {
		b.WriteString("=== " + c.name + "\n")
		if c.input != "" {
			b.WriteString(c.input + "\n")
		}
		b.WriteString("---\n")
		if c.want != "" {
			b.WriteString(c.want + "\n")
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestParseGolden parses every statement of testdata/parse_valid.txt
// (which must parse, to the canonical form given) and
// testdata/parse_invalid.txt (which must fail with the error given).
func TestParseGolden(t *testing.T) {
	for _, file := range []string{"parse_valid.txt", "parse_invalid.txt"} {
		valid := file == "parse_valid.txt"
		path := filepath.Join("testdata", file)
		header, cases := readGolden(t, path)
		if len(cases) == 0 {
			t.Fatalf("%s: no cases", path)
		}
		for i, c := range cases {
			t.Run(strings.TrimSuffix(file, ".txt")+"/"+c.name, func(t *testing.T) {
				st, err := Parse(c.input)
				var got string
				switch {
				case valid && err != nil:
					t.Fatalf("Parse(%q): %v", c.input, err)
				case valid:
					got = st.canonical()
					// The canonical form is itself a valid statement with
					// the same meaning.
					again, err := Parse(got)
					if err != nil {
						t.Fatalf("canonical form %q does not parse: %v", got, err)
					}
					if again.canonical() != got {
						t.Errorf("canonical form is not stable:\n%s\n%s", got, again.canonical())
					}
					if st.String() != c.input {
						t.Errorf("String() = %q, want the statement as written", st.String())
					}
				case err == nil:
					t.Fatalf("Parse(%q) succeeded: %s", c.input, st.canonical())
				default:
					var pe *ParseError
					if !errors.As(err, &pe) {
						t.Fatalf("error %T is not a *ParseError", err)
					}
					got = err.Error()
				}
				if *update {
					cases[i].want = got
					return
				}
				if got != c.want {
					t.Errorf("Parse(%q)\n got %s\nwant %s", c.input, got, c.want)
				}
			})
		}
		if *update {
			writeGolden(t, path, header, cases)
		}
	}
}

func TestParseErrorFields(t *testing.T) {
	_, err := Parse("SELECT a,\n  'é' FROM 'x' WHERE\n  a = = 1")
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err %v", err)
	}
	// The second '=' on line 3: "SELECT a,\n" is 10 characters, "  'é' FROM
	// 'x' WHERE\n" 21 (é is one), "  a = " 6, so it is character 38.
	want := ParseError{Pos: 38, Line: 3, Col: 7, Expected: "an expression", Found: "="}
	if *pe != want {
		t.Errorf("ParseError %+v, want %+v", *pe, want)
	}
	if got := pe.Error(); got != `3:7: expected an expression, found "="` {
		t.Errorf("Error() = %s", got)
	}
	_, err = Parse("SELECT a FROM 'x' WHERE")
	if !errors.As(err, &pe) || pe.Found != "" || pe.Error() != "1:24: expected an expression, found end of statement" {
		t.Errorf("at the end: %v", err)
	}
}

func TestParseLimits(t *testing.T) {
	deep := "SELECT " + strings.Repeat("(", MaxNesting+1) + "1" + strings.Repeat(")", MaxNesting+1) + " FROM 'x'"
	if _, err := Parse(deep); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("deep nesting: %v", err)
	}
	ok := "SELECT " + strings.Repeat("(", MaxNesting-1) + "1" + strings.Repeat(")", MaxNesting-1) + " FROM 'x'"
	if _, err := Parse(ok); err != nil {
		t.Errorf("nesting within the limit: %v", err)
	}
	nots := "SELECT * FROM 'x' WHERE " + strings.Repeat("NOT ", 1000) + "a"
	if _, err := Parse(nots); err == nil {
		t.Error("1000 NOTs parsed")
	}
	long := "SELECT '" + strings.Repeat("x", MaxStatementLen) + "' FROM 'x'"
	if _, err := Parse(long); err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Errorf("long statement: %v", err)
	}
	if _, err := Parse("SELECT '\xff' FROM 'x'"); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("invalid UTF-8: %v", err)
	}
}
