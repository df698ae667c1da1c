package ocppjson

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ocppd/ocppd/ocpp"
)

func TestParseTimeMatchesJSONSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("urn:dt", map[string]any{"type": "string", "format": "date-time"}); err != nil {
		t.Fatal(err)
	}
	sch := c.MustCompile("urn:dt")
	for _, s := range []string{
		"2025-01-31T13:45:00Z", "2025-01-31t13:45:00z", "2025-01-31T13:45:00.1Z", "2025-01-31T13:45:00.123456789123Z",
		"2025-01-31T13:45:00+01:00", "2025-01-31T13:45:00-12:30", "2024-02-29T00:00:00Z", "2016-12-31T23:59:60Z",
		"2017-01-01T00:59:60+01:00", "1999-12-31T23:59:59.999-00:00",
		"2025-02-29T00:00:00Z", "2025-01-31T24:00:00Z", "2025-01-31T13:60:00Z", "2025-01-31T13:45:00", "2025-01-31 13:45:00Z",
		"2025-01-31T13:45Z", "2025-01-31T13:45:00.Z", "2025-01-31T13:45:00+0100", "2025-01-31T13:45:00+24:00",
		"2025-01-31T12:59:60Z", "2025-13-01T00:00:00Z", "2025-00-10T00:00:00Z", "25-01-31T13:45:00Z", "", "yesterday",
		"2025-01-31T13:45:00ZZ", "2025-01-31T13:45:00+01:60",
	} {
		_, msg := ParseTime([]byte(s))
		theirs := sch.Validate(s)
		if (msg == "") != (theirs == nil) {
			t.Errorf("%q: ParseTime says %q, jsonschema says %v", s, msg, theirs)
		}
	}
	got, _ := ParseTime([]byte("2025-01-31T14:45:00.5+01:00"))
	if want := time.Date(2025, 1, 31, 13, 45, 0, 5e8, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("got %v, want %v in UTC", got, want)
	}
}

func decodeOne(t *testing.T, in string, read func(d *Decoder) (any, error)) (any, error) {
	t.Helper()
	d := Get([]byte(in), ocpp.DecodeOptions{})
	defer Put(d)
	v, err := read(d)
	if err == nil {
		err = d.End()
	}
	return v, err
}

func kindOf(err error) ocpp.ErrorKind {
	var ve *ocpp.ValidationError
	if errors.As(err, &ve) {
		return ve.Kind
	}
	return -1
}

func TestReaders(t *testing.T) {
	str := func(d *Decoder) (any, error) { return d.String("f", 3) }
	integer := func(d *Decoder) (any, error) { return d.Int("f") }
	number := func(d *Decoder) (any, error) { return d.Number("f") }
	for _, tc := range []struct {
		in   string
		read func(*Decoder) (any, error)
		want any
		kind ocpp.ErrorKind
	}{
		{`"abc"`, str, "abc", 0},
		{` "éèà" `, str, "éèà", 0},
		{`"\u00e9\n\""`, str, "é\n\"", 0},
		{`"\ud83d\ude00"`, str, "😀", 0},
		{`"\ud83d"`, str, "\uFFFD", 0},
		{"\"a\xffb\"", str, "a\uFFFDb", 0},
		{`"abcd"`, str, nil, ocpp.ErrPropertyConstraint},
		{`"a` + "\n" + `"`, str, nil, ocpp.ErrFormat},
		{`"\x"`, str, nil, ocpp.ErrFormat},
		{`"abc`, str, nil, ocpp.ErrFormat},
		{`3`, str, nil, ocpp.ErrTypeConstraint},
		{`null`, str, nil, ocpp.ErrTypeConstraint},
		{`nul`, str, nil, ocpp.ErrFormat},
		{`"a" x`, str, nil, ocpp.ErrFormat},
		{`42`, integer, 42, 0},
		{`-7`, integer, -7, 0},
		{`7.0`, integer, 7, 0},
		{`1e2`, integer, 100, 0},
		{`7.5`, integer, nil, ocpp.ErrTypeConstraint},
		{`1e30`, integer, nil, ocpp.ErrPropertyConstraint},
		{`012`, integer, nil, ocpp.ErrFormat},
		{`1.`, integer, nil, ocpp.ErrFormat},
		{`-`, integer, nil, ocpp.ErrFormat},
		{`"7"`, integer, nil, ocpp.ErrTypeConstraint},
		{`2.5e-3`, number, 0.0025, 0},
		{`1e400`, number, nil, ocpp.ErrPropertyConstraint},
		{`true`, number, nil, ocpp.ErrTypeConstraint},
	} {
		got, err := decodeOne(t, tc.in, tc.read)
		if tc.want != nil {
			if err != nil || got != tc.want {
				t.Errorf("%s: got %v, %v; want %v", tc.in, got, err, tc.want)
			}
			continue
		}
		if kindOf(err) != tc.kind {
			t.Errorf("%s: error %v (kind %d), want kind %d", tc.in, err, kindOf(err), tc.kind)
		}
	}
}

func TestSkipAndRaw(t *testing.T) {
	in := `{"a":[1,-2.5e3,"x\"y",true,false,null,{"b":{}}],"c":[]}`
	got, err := decodeOne(t, in, func(d *Decoder) (any, error) { r, err := d.Raw("f"); return string(r), err })
	if err != nil || got != in {
		t.Fatalf("Raw = %v, %v", got, err)
	}
	for _, bad := range []string{`{"a":1,}`, `[1 2]`, `{"a" 1}`, `{1:2}`, `[`, `{"a":tru}`} {
		if _, err := decodeOne(t, bad, func(d *Decoder) (any, error) { return d.Raw("f") }); kindOf(err) != ocpp.ErrFormat {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestPathsAndWarnings(t *testing.T) {
	var warned []string
	d := Get([]byte(`"Bogus"`), ocpp.DecodeOptions{Lenient: true, Warn: func(p, m string) { warned = append(warned, p) }})
	defer Put(d)
	d.Push("meterValue")
	d.SetIndex(2)
	d.Push("sampledValue")
	d.SetIndex(0)
	v, err := Enum(d, "unit", func(b []byte) (string, bool) { return "", false })
	if err != nil || v != "Bogus" || len(warned) != 1 || warned[0] != "meterValue[2].sampledValue[0].unit" {
		t.Fatalf("got %q %v %v", v, err, warned)
	}
}

func TestAppend(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{{0, "0"}, {1.5, "1.5"}, {-7, "-7"}, {1e21, "1e+21"}, {1e-7, "1e-7"}, {123456.789, "123456.789"}} {
		if got := string(AppendFloat(nil, tc.f)); got != tc.want {
			t.Errorf("AppendFloat(%v) = %s, want %s", tc.f, got, tc.want)
		}
	}
	cet := time.FixedZone("CET", 3600)
	if got := string(AppendTime(nil, time.Date(2025, 1, 31, 14, 45, 0, 0, cet))); got != `"2025-01-31T13:45:00Z"` {
		t.Errorf("AppendTime = %s", got)
	}
	if got := string(AppendTime(nil, time.Date(2025, 1, 31, 13, 45, 0, 123456789, time.UTC))); got != `"2025-01-31T13:45:00.123Z"` {
		t.Errorf("AppendTime = %s", got)
	}
	if !MultipleOf(16.1, 0.1) || MultipleOf(16.15, 0.1) || !MultipleOf(0.3, 0.1) {
		t.Error("MultipleOf")
	}
	if CheckURI("https://example.com/fw.bin") != "" || CheckURI("fw.bin") == "" || CheckURI("http://[::1/") == "" {
		t.Error("CheckURI")
	}
	if err := CheckString("f", strings.Repeat("é", 3), 3); err != nil {
		t.Error("CheckString counts bytes, not characters")
	}
}
