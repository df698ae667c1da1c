package message_test

import (
	"fmt"
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
				msg, err := decode(ver.v, o, example, ocpp.DecodeOptions{})
				if err != nil {
					t.Fatalf("%s: %v", o.action, err)
				}
				for _, site := range sites(s, o.doc, reflect.ValueOf(msg).Elem(), "") {
					saved := reflect.New(site.v.Type()).Elem()
					saved.Set(site.v)
					for j := 0; ; j++ {
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
						site.v.Set(saved) // each mutation breaks one field only
					}
				}
				if err := message.Validate(ver.v, msg); err != nil {
					t.Fatalf("%s: message not restored: %v", o.action, err)
				}
			}
			t.Logf("OCPP %s: %d outbound mutations, %d rejected, all as the official schemas decide", ver.name, checked, rejected)
		})
	}
}

type site struct {
	path     string
	v        reflect.Value
	maxItems int // of a slice, from the schema; 0 when unbounded
}

var timeType = reflect.TypeOf(time.Time{})

// sites lists the settable fields reachable from v (a struct, an instance
// of the schema sch), following non-nil pointers and the first element of
// slices.
func sites(syn *synth, sch map[string]any, v reflect.Value, path string) []site {
	sch = syn.resolve(sch)
	props, _ := sch["properties"].(map[string]any)
	var out []site
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		sf := v.Type().Field(i)
		name := path + "." + sf.Name
		if sf.Name == "Extra" || f.Type() == timeType {
			continue
		}
		js := strings.Split(sf.Tag.Get("json"), ",")[0]
		fs, _ := props[js].(map[string]any)
		if fs == nil {
			panic("no schema for " + name)
		}
		fs = syn.resolve(fs)
		st := site{path: name, v: f}
		if m, ok := num(fs["maxItems"]); ok {
			st.maxItems = int(m)
		}
		out = append(out, st)
		switch f.Kind() {
		case reflect.Pointer:
			if !f.IsNil() && f.Elem().Kind() == reflect.Struct {
				out = append(out, sites(syn, fs, f.Elem(), name)...)
			}
		case reflect.Struct:
			out = append(out, sites(syn, fs, f, name)...)
		case reflect.Slice:
			if f.Len() > 0 && f.Index(0).Kind() == reflect.Struct && f.Index(0).Type() != timeType {
				out = append(out, sites(syn, fs["items"].(map[string]any), f.Index(0), name+"[0]")...)
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
		case 1, 2:
			// At the limit (valid) and one past it.
			if v.Len() == 0 || v.Type().Elem().Kind() == reflect.Uint8 || s.maxItems == 0 {
				return "", false
			}
			n := s.maxItems + j - 1
			long := reflect.MakeSlice(v.Type(), 0, n)
			for range n {
				long = reflect.Append(long, v.Index(0))
			}
			v.Set(long)
			return fmt.Sprintf("%d items", n), true
		}
	}
	return "", false
}
