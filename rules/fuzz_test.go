package rules

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParse checks that Parse never panics, that its errors are
// *ParseError with positions inside the statement, and that an accepted
// statement's canonical form parses to itself and evaluates without
// panicking.
func FuzzParse(f *testing.F) {
	for _, file := range []string{"parse_valid.txt", "parse_invalid.txt"} {
		_, cases := readGolden(f, filepath.Join("testdata", file))
		for _, c := range cases {
			f.Add(c.input)
		}
	}
	for _, s := range []string{
		"SELECT * FROM '#' WHERE a[0].b.c[get(*, 1)] >= -1e3 OR NOT 'x' <> \"y\"",
		"SELECT concat(a, b, c, d) AS \"\"\"\" FROM 'a/+/b/#'",
		"SELECT ((((((((1)))))))) FROM 'x'",
		"SELECT 'unterminated",
		"SELECT \"",
		"SELECT 1.e5, .5, 5., 0x10 FROM 'x'",
	} {
		f.Add(s)
	}
	payloads := [][]byte{
		[]byte(`[2,"id","Heartbeat",{}]`),
		[]byte(`{"a":{"b":[1,2,{"c":"d"}]},"s":"x","n":-1.5e3}`),
		[]byte(`not json`),
		nil,
	}
	f.Fuzz(func(t *testing.T, sql string) {
		st, err := Parse(sql)
		if err != nil {
			pe, ok := err.(*ParseError)
			if !ok {
				t.Fatalf("error %T: %v", err, err)
			}
			if pe.Pos < 1 || pe.Line < 1 || pe.Col < 1 || pe.Pos > len([]rune(sql))+1 {
				t.Fatalf("bad position %+v for %q", pe, sql)
			}
			if pe.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		canon := st.canonical()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, sql, err)
		}
		if again.canonical() != canon {
			t.Fatalf("canonical form not stable: %q -> %q", canon, again.canonical())
		}
		for _, p := range payloads {
			row, _ := st.Eval(Input{Topic: "CP1/in", Payload: p, Timestamp: time.UnixMilli(1)})
			if _, err := json.Marshal(row); err != nil {
				t.Fatalf("row of %q does not marshal: %v", sql, err)
			}
		}
	})
}

// FuzzEval checks the lazy JSON reader against encoding/json: for any
// payload, the values a rule reads are those encoding/json decodes, and
// invalid JSON gives nothing rather than garbage. Numbers beyond the range
// of float64 count as invalid (they are Undefined in rules).
func FuzzEval(f *testing.F) {
	for _, s := range []string{
		`[2,"id","Heartbeat",{}]`,
		`[2,"id","MeterValues",{"evseId":1,"meterValue":[{"sampledValue":[{"value":1.5}]}]}]`,
		`{"a":1,"b":"x","a":2}`,
		`{"\u00e9":"\ud83d\ude00","k":[true,false,null]}`,
		`[1,2`,
		`[ 1 , -0.5e-3 , "a\"b" , [ ] , { } ]`,
		`"just a string"`,
		`123456789012345678901234567890`,
		`[3,"id",{"status":"Accepted"}]`,
	} {
		f.Add([]byte(s))
	}
	if b, err := os.ReadFile(filepath.Join("testdata", "parse_valid.txt")); err == nil {
		f.Add(b)
	}
	elem := make([]*Statement, 4)
	for i := range elem {
		st, err := Parse("SELECT get(*, " + string(rune('0'+i)) + ") AS v FROM '#'")
		if err != nil {
			f.Fatal(err)
		}
		elem[i] = st
	}
	star, err := Parse("SELECT * FROM '#'")
	if err != nil {
		f.Fatal(err)
	}
	whole, err := Parse("SELECT * AS v FROM '#'")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var want any
		dec := json.NewDecoder(bytes.NewReader(payload))
		dec.UseNumber()
		var plain any // numbers out of the range of float64 are undefined
		valid := dec.Decode(&want) == nil && json.Unmarshal(payload, &plain) == nil
		in := Input{Topic: "t", Payload: payload}

		row, ok := whole.Eval(in)
		if !ok {
			t.Fatal("SELECT * AS v did not match")
		}
		got, present := row.Get("v")
		if present != valid {
			t.Fatalf("whole payload present=%v, valid JSON=%v: %q", present, valid, payload)
		}
		if !valid {
			// Whatever is read of an invalid payload must not panic.
			for _, st := range elem {
				st.Eval(in)
			}
			star.Eval(in)
			return
		}
		same(t, "payload", got, want)

		if arr, ok := want.([]any); ok {
			for i, st := range elem {
				row, _ := st.Eval(in)
				v, present := row.Get("v")
				if present != (i < len(arr)) {
					t.Fatalf("get(*, %d) present=%v with %d elements", i, present, len(arr))
				}
				if present {
					same(t, "element", v, arr[i])
				}
			}
		}
		if obj, ok := want.(map[string]any); ok {
			row, _ := star.Eval(in)
			if len(row) != len(obj) {
				t.Fatalf("SELECT * gave %d fields, encoding/json %d members", len(row), len(obj))
			}
			same(t, "object", row.Map(), obj)
		}
	})
}

// same compares a row value with what encoding/json decoded (with
// UseNumber), through their JSON forms with numbers made comparable.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(normalizeNumbers(got))
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(normalizeNumbers(want))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Fatalf("%s: got %s, encoding/json %s", what, g, w)
	}
}

func normalizeNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return float64(i)
		}
		f, _ := v.Float64()
		return f
	case int64:
		return float64(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalizeNumbers(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[strings.Clone(k)] = normalizeNumbers(e)
		}
		return out
	}
	return v
}
