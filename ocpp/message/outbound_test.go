package message_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/message"
)

// TestOutboundValidateMatchesSchema checks Validate, which guards the
// messages the CSMS builds, against the official schemas: every message
// of every action is built (decoded from a full example), then each of its
// fields in turn is set to a value that may break a rule (over-long
// strings, values outside enums, out-of-range numbers, missing nested
// objects, empty or over-full arrays). Validate must reject exactly the
// messages whose encoding the official schema rejects.
func TestOutboundValidateMatchesSchema(t *testing.T) {
	for _, ver := range versions {
		t.Run(ver.name, func(t *testing.T) {
			schemas := loadOfficial(t, ver.name)
			checked, rejected := 0, 0
			for _, o := range schemas {
				defs, _ := o.doc["definitions"].(map[string]any)
				s := &synth{defs: defs, all: true, single: true}
				example := canon(t, s.object(o.doc, 0))
				fresh := func() any {
					msg, err := decode(ver.v, o, example, ocpp.DecodeOptions{})
					if err != nil {
						t.Fatalf("%s: %v", o.action, err)
					}
					return msg
				}
				n := len(sites(reflect.ValueOf(fresh()).Elem(), ""))
				for i := 0; i < n; i++ {
					for j := 0; ; j++ {
						msg := fresh()
						site := sites(reflect.ValueOf(msg).Elem(), "")[i]
						what, ok := site.mutate(j)
						if !ok {
							break
						}
						checked++
						ours := message.Validate(ver.v, msg)
						enc, err := message.Encode(msg)
						if err != nil {
							t.Fatalf("%s %s %s: encode: %v", o.action, site.path, what, err)
						}
						theirs := o.schema.Validate(instance(t, enc))
						if (ours == nil) != (theirs == nil) {
							t.Errorf("%s %s %s %s: Validate says %v, the official schema says %v\n%s", ver.name, o.action, site.path, what, ours, theirs, enc)
						}
						if ours != nil {
							rejected++
						}
					}
				}
			}
			t.Logf("OCPP %s: %d outbound mutations, %d rejected, all as the official schemas decide", ver.name, checked, rejected)
		})
	}
}

type site struct {
	path string
	v    reflect.Value
}

var timeType = reflect.TypeOf(time.Time{})

// sites lists the settable fields reachable from v (a struct), following
// non-nil pointers and the first element of slices.
func sites(v reflect.Value, path string) []site {
	var out []site
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		name := path + "." + v.Type().Field(i).Name
		if v.Type().Field(i).Name == "Extra" || f.Type() == timeType {
			continue
		}
		out = append(out, site{name, f})
		switch f.Kind() {
		case reflect.Pointer:
			if !f.IsNil() && f.Elem().Kind() == reflect.Struct {
				out = append(out, sites(f.Elem(), name)...)
			}
		case reflect.Struct:
			out = append(out, sites(f, name)...)
		case reflect.Slice:
			if f.Len() > 0 && f.Index(0).Kind() == reflect.Struct && f.Index(0).Type() != timeType {
				out = append(out, sites(f.Index(0), name+"[0]")...)
			}
		}
	}
	return out
}

// mutate applies the j-th mutation for the site's kind and says what it
// did; false when there is no j-th mutation.
func (s site) mutate(j int) (string, bool) {
	v := s.v
	switch v.Kind() {
	case reflect.String:
		vals := []string{strings.Repeat("é", 513), strings.Repeat("x", 6000), "NotAnEnumValue", "", "relative/path"}
		if j >= len(vals) {
			return "", false
		}
		v.SetString(vals[j])
		return "string " + vals[j][:min(len(vals[j]), 12)], true
	case reflect.Int:
		vals := []int64{-1, 0, 1, 101, 1 << 40}
		if j >= len(vals) {
			return "", false
		}
		v.SetInt(vals[j])
		return "int", true
	case reflect.Float64:
		vals := []float64{-0.5, 0.15, 1e9, 100.5}
		if j >= len(vals) {
			return "", false
		}
		v.SetFloat(vals[j])
		return "float", true
	case reflect.Pointer:
		if j > 0 || v.IsNil() {
			return "", false
		}
		v.Set(reflect.Zero(v.Type()))
		return "nil", true
	case reflect.Slice:
		switch j {
		case 0:
			v.Set(reflect.Zero(v.Type()))
			return "nil slice", true
		case 1:
			if v.Len() == 0 || v.Type().Elem().Kind() == reflect.Uint8 {
				return "", false
			}
			long := reflect.MakeSlice(v.Type(), 0, 1100)
			for range 1100 {
				long = reflect.Append(long, v.Index(0))
			}
			v.Set(long)
			return "1100 items", true
		}
	}
	return "", false
}
