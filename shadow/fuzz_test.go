package shadow_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/shadow"
)

// FuzzParseUpdateApply applies arbitrary updates to a known document and
// checks the invariants: errors are EINVALID or ECONFLICT and change
// nothing; an accepted update bumps the version, keeps the document free of
// nulls and empty objects, gives every leaf metadata, and survives a
// Marshal/Parse round trip.
func FuzzParseUpdateApply(f *testing.F) {
	for _, s := range []string{
		`{"state":{"desired":{"a":{"b":1}}}}`,
		`{"state":{"reported":{"a":null,"b":{"c":[1,{"d":null}]}}},"version":3,"clientToken":"x"}`,
		`{"state":{"desired":null,"reported":{"x":{"y":{"z":"w"}}}}}`,
		`{"state":{"desired":{"HeartbeatInterval":60}},"version":2}`,
		`{"state":{"delta":{}}}`,
		`{"state":{"reported":{"a":1e999}}}`,
		`{"state":{"reported":{"a":{}}}}`,
		`{"version":-0}`,
		`[2,"id","Heartbeat",{}]`,
		`{"state":{"desired":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":1}}}}}}}}}}`,
	} {
		f.Add([]byte(s))
	}
	base := []byte(`{"state":{"reported":{"a":1,"b":{"c":"x"},"l":[1,2]},"desired":{"a":2,"b":{"d":true}}},
		"metadata":{"reported":{"a":{"timestamp":1},"b":{"c":{"timestamp":1}},"l":{"timestamp":1}},"desired":{"a":{"timestamp":1},"b":{"d":{"timestamp":1}}}},
		"version":3,"timestamp":1}`)
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := shadow.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		before, _ := d.Marshal()
		u, err := shadow.ParseUpdate(in)
		if err != nil {
			if ocppd.ErrorCode(err) != ocppd.EINVALID {
				t.Fatalf("ParseUpdate error code %q: %v", ocppd.ErrorCode(err), err)
			}
			return
		}
		if err := d.Apply(u, time.Unix(t1, 0)); err != nil {
			if c := ocppd.ErrorCode(err); c != ocppd.EINVALID && c != ocppd.ECONFLICT {
				t.Fatalf("Apply error code %q: %v", c, err)
			}
			if after, _ := d.Marshal(); !bytes.Equal(before, after) {
				t.Fatalf("refused update changed the document:\n%s\n%s", before, after)
			}
			return
		}
		if d.Version != 4 || d.Timestamp != t1 {
			t.Fatalf("version %d timestamp %d after one update", d.Version, d.Timestamp)
		}
		checkTree(t, "reported", d.State.Reported, d.Metadata.Reported)
		checkTree(t, "desired", d.State.Desired, d.Metadata.Desired)
		b, err := d.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := shadow.Parse(b)
		if err != nil {
			t.Fatalf("Parse of a marshalled document: %v\n%s", err, b)
		}
		b2, _ := again.Marshal()
		if canon(t, string(b)) != canon(t, string(b2)) {
			t.Fatalf("round trip changed the document\n%s\n%s", b, b2)
		}
		_ = d.UpdateAccepted(u)
		_, _ = d.DeltaMessage(u.ClientToken)
	})
}

// checkTree fails if state holds null members or empty objects, or a leaf
// without metadata.
func checkTree(t *testing.T, path string, state, meta map[string]any) {
	t.Helper()
	if state != nil && len(state) == 0 {
		t.Fatalf("%s: empty object kept", path)
	}
	for k, v := range state {
		m, ok := meta[k].(map[string]any)
		if !ok {
			t.Fatalf("%s.%s: no metadata", path, k)
		}
		switch v := v.(type) {
		case nil:
			t.Fatalf("%s.%s: null kept", path, k)
		case map[string]any:
			checkTree(t, path+"."+k, v, m)
		default:
			if _, ok := m["timestamp"]; !ok {
				t.Fatalf("%s.%s: leaf metadata %v has no timestamp", path, k, m)
			}
		}
	}
}
