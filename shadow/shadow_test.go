package shadow_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/shadow"
)

const (
	t0 = 1700000000
	t1 = 1700000100
)

// seedReported is the device shadow the aws-ocpp-gateway seed shows after
// a BootNotification.
const seedReported = `{"state":{"reported":{"chargingStation":{"model":"ABC 123 XYZ","vendorName":"Acme Electrical Systems","firmwareVersion":"10.9.8.ABC","serialNumber":"CP1234567890A01","modem":{"iccid":"891004234814455936F","imsi":"310410123456789"}},"reason":"PowerUp"}}}`

// canon re-encodes JSON with sorted keys so that documents compare as text.
func canon(t testing.TB, s string) string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("canon %s: %v", s, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustParse(t testing.TB, s string) shadow.Document {
	t.Helper()
	d, err := shadow.Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return d
}

func mustUpdate(t testing.TB, s string) shadow.Update {
	t.Helper()
	u, err := shadow.ParseUpdate([]byte(s))
	if err != nil {
		t.Fatalf("ParseUpdate(%s): %v", s, err)
	}
	return u
}

func marshal(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestApply(t *testing.T) {
	tests := []struct {
		name   string
		doc    string // starting document; "" for none
		update string
		want   string // the whole resulting document
	}{
		{
			name:   "boot notification into an empty shadow",
			update: `{"state":{"reported":{"chargingStation":{"model":"M","modem":{"imsi":"1"}},"reason":"PowerUp"}}}`,
			want: `{"state":{"reported":{"chargingStation":{"model":"M","modem":{"imsi":"1"}},"reason":"PowerUp"}},
				"metadata":{"reported":{"chargingStation":{"model":{"timestamp":1700000100},"modem":{"imsi":{"timestamp":1700000100}}},"reason":{"timestamp":1700000100}}},
				"version":1,"timestamp":1700000100}`,
		},
		{
			name: "desired merges key by key and keeps old leaf timestamps",
			doc: `{"state":{"desired":{"a":{"b":1}}},"metadata":{"desired":{"a":{"b":{"timestamp":1700000000}}}},
				"version":3,"timestamp":1700000000}`,
			update: `{"state":{"desired":{"a":{"c":2}}}}`,
			want: `{"state":{"desired":{"a":{"b":1,"c":2}},"delta":{"a":{"b":1,"c":2}}},
				"metadata":{"desired":{"a":{"b":{"timestamp":1700000000},"c":{"timestamp":1700000100}}}},
				"version":4,"timestamp":1700000100}`,
		},
		{
			name: "null deletes the key and the parents it leaves empty",
			doc: `{"state":{"desired":{"a":{"b":1}},"reported":{"x":1}},
				"metadata":{"desired":{"a":{"b":{"timestamp":1700000000}}},"reported":{"x":{"timestamp":1700000000}}},"version":1,"timestamp":1700000000}`,
			update: `{"state":{"desired":{"a":{"b":null}}}}`,
			want: `{"state":{"reported":{"x":1}},"metadata":{"reported":{"x":{"timestamp":1700000000}}},
				"version":2,"timestamp":1700000100}`,
		},
		{
			name:   "null on an absent key changes nothing but the version",
			doc:    `{"state":{"reported":{"x":1}},"metadata":{"reported":{"x":{"timestamp":1700000000}}},"version":1,"timestamp":1700000000}`,
			update: `{"state":{"reported":{"nope":null,"deep":{"er":null}}}}`,
			want:   `{"state":{"reported":{"x":1}},"metadata":{"reported":{"x":{"timestamp":1700000000}}},"version":2,"timestamp":1700000100}`,
		},
		{
			name:   "a scalar replaces an object",
			doc:    `{"state":{"reported":{"a":{"b":1,"c":2}}},"metadata":{"reported":{"a":{"b":{"timestamp":1},"c":{"timestamp":1}}}},"version":1}`,
			update: `{"state":{"reported":{"a":"flat"}}}`,
			want:   `{"state":{"reported":{"a":"flat"}},"metadata":{"reported":{"a":{"timestamp":1700000100}}},"version":2,"timestamp":1700000100}`,
		},
		{
			name:   "an object replaces a scalar",
			doc:    `{"state":{"reported":{"a":5}},"metadata":{"reported":{"a":{"timestamp":1}}},"version":1}`,
			update: `{"state":{"reported":{"a":{"b":true}}}}`,
			want:   `{"state":{"reported":{"a":{"b":true}}},"metadata":{"reported":{"a":{"b":{"timestamp":1700000100}}}},"version":2,"timestamp":1700000100}`,
		},
		{
			name:   "arrays are one leaf, replaced whole, nulls inside kept",
			doc:    `{"state":{"reported":{"l":[1,2,3]}},"metadata":{"reported":{"l":{"timestamp":1}}},"version":1}`,
			update: `{"state":{"reported":{"l":[null,{"k":null}]}}}`,
			want:   `{"state":{"reported":{"l":[null,{"k":null}]}},"metadata":{"reported":{"l":{"timestamp":1700000100}}},"version":2,"timestamp":1700000100}`,
		},
		{
			name:   "an empty object sets nothing",
			update: `{"state":{"desired":{"a":{}}}}`,
			want:   `{"state":{},"metadata":{},"version":1,"timestamp":1700000100}`,
		},
		{
			name: "desired null clears the section",
			doc: `{"state":{"desired":{"a":1},"reported":{"a":2}},"metadata":{"desired":{"a":{"timestamp":1}},"reported":{"a":{"timestamp":1}}},
				"version":5,"timestamp":1}`,
			update: `{"state":{"desired":null}}`,
			want:   `{"state":{"reported":{"a":2}},"metadata":{"reported":{"a":{"timestamp":1}}},"version":6,"timestamp":1700000100}`,
		},
		{
			name:   "matching expected version",
			doc:    `{"state":{"reported":{"a":1}},"metadata":{"reported":{"a":{"timestamp":1}}},"version":7,"timestamp":1}`,
			update: `{"state":{"reported":{"a":2}},"version":7,"clientToken":"tok"}`,
			want:   `{"state":{"reported":{"a":2}},"metadata":{"reported":{"a":{"timestamp":1700000100}}},"version":8,"timestamp":1700000100}`,
		},
		{
			name:   "big integers survive unchanged",
			update: `{"state":{"reported":{"n":123456789012345678901234567890,"f":1.5e300}}}`,
			want:   `{"state":{"reported":{"n":123456789012345678901234567890,"f":1.5e300}},"metadata":{"reported":{"n":{"timestamp":1700000100},"f":{"timestamp":1700000100}}},"version":1,"timestamp":1700000100}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, tt.doc)
			if err := d.Apply(mustUpdate(t, tt.update), time.Unix(t1, 0)); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			b, err := d.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := canon(t, string(b)), canon(t, tt.want); got != want {
				t.Errorf("document\n got %s\nwant %s", got, want)
			}
			// What is stored parses back to the same document.
			again := mustParse(t, string(b))
			b2, _ := again.Marshal()
			if canon(t, string(b2)) != canon(t, string(b)) {
				t.Errorf("round trip changed the document\n got %s\nwant %s", b2, b)
			}
		})
	}
}

func TestDelta(t *testing.T) {
	tests := []struct {
		name              string
		desired, reported string
		want              string // "null" for no delta
	}{
		{"nothing desired", `{}`, `{"a":1}`, `null`},
		{"equal scalar", `{"a":1}`, `{"a":1}`, `null`},
		{"numbers compare numerically", `{"a":1.0,"b":100}`, `{"a":1,"b":1e2}`, `null`},
		{"absent in reported", `{"a":1}`, `{}`, `{"a":1}`},
		{"differing string", `{"a":"x"}`, `{"a":"y"}`, `{"a":"x"}`},
		{"type differs", `{"a":"1"}`, `{"a":1}`, `{"a":"1"}`},
		{"recurse into objects", `{"y":{"z":2,"w":1},"x":1}`, `{"y":{"z":3,"w":1},"x":1}`, `{"y":{"z":2}}`},
		{"reported not an object", `{"a":{"b":1}}`, `{"a":5}`, `{"a":{"b":1}}`},
		{"desired scalar, reported object", `{"a":5}`, `{"a":{"b":1}}`, `{"a":5}`},
		{"arrays whole: differ", `{"l":[1,2]}`, `{"l":[1,2,3]}`, `{"l":[1,2]}`},
		{"arrays whole: equal", `{"l":[1,{"k":"v"}]}`, `{"l":[1.0,{"k":"v"}]}`, `null`},
		{"extra reported keys ignored", `{"a":{"b":1}}`, `{"a":{"b":1,"c":2},"d":3}`, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, fmt.Sprintf(`{"state":{"desired":%s,"reported":%s}}`, tt.desired, tt.reported))
			if got, want := marshal(t, d.Delta()), canon(t, tt.want); canon(t, got) != want {
				t.Errorf("Delta() = %s, want %s", got, want)
			}
			if got, want := marshal(t, d.State.Delta), canon(t, tt.want); canon(t, got) != want {
				t.Errorf("State.Delta = %s, want %s", got, want)
			}
		})
	}
}

func TestDeltaRecomputedOnUpdate(t *testing.T) {
	var d shadow.Document
	now := time.Unix(t1, 0)
	steps := []struct {
		update, wantDelta string
	}{
		{`{"state":{"desired":{"HeartbeatInterval":60,"TxCtrlr":{"EVConnectionTimeOut":30}}}}`, `{"HeartbeatInterval":60,"TxCtrlr":{"EVConnectionTimeOut":30}}`},
		{`{"state":{"reported":{"HeartbeatInterval":60}}}`, `{"TxCtrlr":{"EVConnectionTimeOut":30}}`},
		{`{"state":{"reported":{"TxCtrlr":{"EVConnectionTimeOut":30.0}}}}`, `null`},
		{`{"state":{"reported":{"HeartbeatInterval":300}}}`, `{"HeartbeatInterval":60}`},
		{`{"state":{"desired":{"HeartbeatInterval":null}}}`, `null`},
	}
	for i, s := range steps {
		if err := d.Apply(mustUpdate(t, s.update), now); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := marshal(t, d.State.Delta); canon(t, got) != canon(t, s.wantDelta) {
			t.Errorf("step %d: delta %s, want %s", i, got, s.wantDelta)
		}
		if d.Version != int64(i+1) {
			t.Errorf("step %d: version %d, want %d", i, d.Version, i+1)
		}
	}
	b, _ := d.Marshal()
	if bytes.Contains(b, []byte(`"delta"`)) {
		t.Errorf("an empty delta is marshalled: %s", b)
	}
}

func TestSeedShadow(t *testing.T) {
	// The walking skeleton stores BootNotification exactly like the seed,
	// without metadata or version. It must parse, and take updates.
	d := mustParse(t, seedReported)
	d.Version = 1 // from the store record
	if got := d.State.Reported["reason"]; got != "PowerUp" {
		t.Fatalf("reported.reason = %v", got)
	}
	u := mustUpdate(t, `{"state":{"desired":{"chargingStation":{"firmwareVersion":"11.0"}}},"version":1}`)
	if err := d.Apply(u, time.Unix(t1, 0)); err != nil {
		t.Fatal(err)
	}
	if got, want := marshal(t, d.Delta()), `{"chargingStation":{"firmwareVersion":"11.0"}}`; got != want {
		t.Errorf("delta %s, want %s", got, want)
	}
	if d.Version != 2 {
		t.Errorf("version %d, want 2", d.Version)
	}
}

func TestApplyGoValues(t *testing.T) {
	type modem struct {
		ICCID string `json:"iccid,omitempty"`
		IMSI  string `json:"imsi,omitempty"`
	}
	type station struct {
		Model string `json:"model"`
		Modem *modem `json:"modem,omitempty"`
	}
	var d shadow.Document
	u := shadow.Update{State: shadow.UpdateState{
		Reported: map[string]any{
			"chargingStation": station{Model: "M", Modem: &modem{IMSI: "9"}},
			"interval":        300,
			"ratio":           0.5,
			"tags":            []string{"a", "b"},
			"nothing":         (*modem)(nil),
			"raw":             json.RawMessage(`{"evse":[{"id":1}],"big":12345678901234567890}`),
		},
		Desired: map[string]any{"interval": int64(300)},
	}}
	if err := d.Apply(u, time.Unix(t1, 0)); err != nil {
		t.Fatal(err)
	}
	want := `{"chargingStation":{"model":"M","modem":{"imsi":"9"}},"interval":300,"ratio":0.5,"raw":{"big":12345678901234567890,"evse":[{"id":1}]},"tags":["a","b"]}`
	if got := marshal(t, d.State.Reported); got != want {
		t.Errorf("reported %s, want %s", got, want)
	}
	if d.State.Delta != nil {
		t.Errorf("300 (int) and 300 (int64) differ: delta %v", d.State.Delta)
	}
	// The document holds copies: changing the caller's maps changes nothing.
	u.State.Desired["interval"] = 1
	if got := marshal(t, d.State.Desired); got != `{"interval":300}` {
		t.Errorf("desired aliased the update: %s", got)
	}

	bad := shadow.Update{State: shadow.UpdateState{Reported: map[string]any{"f": func() {}}}}
	if err := d.Apply(bad, time.Unix(t1, 0)); ocppd.ErrorCode(err) != ocppd.EINVALID {
		t.Errorf("unmarshalable value: err %v, want EINVALID", err)
	}
}

func TestApplyConflict(t *testing.T) {
	d := mustParse(t, `{"state":{"reported":{"a":1}},"metadata":{"reported":{"a":{"timestamp":1}}},"version":7,"timestamp":1}`)
	before, _ := d.Marshal()
	for _, v := range []string{`0`, `6`, `8`} {
		u := mustUpdate(t, `{"state":{"reported":{"a":2}},"version":`+v+`}`)
		err := d.Apply(u, time.Unix(t1, 0))
		if ocppd.ErrorCode(err) != ocppd.ECONFLICT {
			t.Fatalf("version %s: err %v, want ECONFLICT", v, err)
		}
		after, _ := d.Marshal()
		if !bytes.Equal(before, after) {
			t.Errorf("version %s: document changed on conflict:\n%s\n%s", v, before, after)
		}
	}
	// A fresh document is at version 0, so 0 means "create only".
	var fresh shadow.Document
	if err := fresh.Apply(mustUpdate(t, `{"state":{"reported":{"a":1}},"version":0}`), time.Unix(t1, 0)); err != nil {
		t.Errorf("version 0 on a fresh document: %v", err)
	}
}

func TestApplyStateTooLarge(t *testing.T) {
	var d shadow.Document
	big := strings.Repeat("x", 40<<10)
	if err := d.Apply(shadow.Update{State: shadow.UpdateState{Reported: map[string]any{"a": big}}}, time.Unix(t0, 0)); err != nil {
		t.Fatal(err)
	}
	before, _ := d.Marshal()
	err := d.Apply(shadow.Update{State: shadow.UpdateState{Desired: map[string]any{"b": big}}}, time.Unix(t1, 0))
	if ocppd.ErrorCode(err) != ocppd.EINVALID || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("err %v, want EINVALID about the size", err)
	}
	after, _ := d.Marshal()
	if !bytes.Equal(before, after) {
		t.Error("document changed on a refused update")
	}
}

func TestParseUpdateInvalid(t *testing.T) {
	deep := `{"state":{"desired":` + strings.Repeat(`{"a":`, 9) + `1` + strings.Repeat(`}`, 9) + `}}`
	deepArr := `{"state":{"desired":{"a":` + strings.Repeat(`[`, 8) + strings.Repeat(`]`, 8) + `}}}`
	tests := []struct {
		name, in, wantMsg string
	}{
		{"not JSON", `{"state":`, "invalid JSON"},
		{"empty", ``, "invalid JSON"},
		{"not an object", `[1]`, "must be a JSON object"},
		{"trailing data", `{"state":{"desired":{}}} {}`, "trailing data"},
		{"unknown field", `{"state":{"desired":{}},"metadata":{}}`, `unknown field "metadata"`},
		{"missing state", `{"version":1}`, "state: missing"},
		{"state not an object", `{"state":[1]}`, "state: must be an object"},
		{"state null", `{"state":null}`, "state: must be an object"},
		{"empty state", `{"state":{}}`, "state: must contain reported or desired"},
		{"delta written", `{"state":{"delta":{"a":1}}}`, "state.delta: is computed"},
		{"unknown section", `{"state":{"wanted":{"a":1}}}`, "state.wanted: unknown section"},
		{"desired a string", `{"state":{"desired":"x"}}`, "state.desired: must be an object or null"},
		{"reported an array", `{"state":{"reported":[]}}`, "state.reported: must be an object or null"},
		{"negative version", `{"state":{"desired":{}},"version":-1}`, "version: must be a non-negative integer"},
		{"fractional version", `{"state":{"desired":{}},"version":1.5}`, "version: must be a non-negative integer"},
		{"string version", `{"state":{"desired":{}},"version":"1"}`, "version: must be a non-negative integer"},
		{"numeric clientToken", `{"state":{"desired":{}},"clientToken":1}`, "clientToken: must be a string"},
		{"long clientToken", `{"state":{"desired":{}},"clientToken":"` + strings.Repeat("t", 65) + `"}`, "clientToken: longer than 64 bytes"},
		{"too deep", deep, "state.desired.a.a.a.a.a.a.a.a: nested deeper than 8 levels"},
		{"too deep in arrays", deepArr, "nested deeper than 8 levels"},
		{"too large", `{"state":{"reported":{"a":"` + strings.Repeat("x", 64<<10) + `"}}}`, "more than the 65536 allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := shadow.ParseUpdate([]byte(tt.in))
			if ocppd.ErrorCode(err) != ocppd.EINVALID {
				t.Fatalf("err %v, want EINVALID", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
	// Exactly 8 levels is allowed.
	ok := `{"state":{"desired":` + strings.Repeat(`{"a":`, 8) + `1` + strings.Repeat(`}`, 8) + `}}`
	if _, err := shadow.ParseUpdate([]byte(ok)); err != nil {
		t.Errorf("8 levels: %v", err)
	}
}

func TestParseDocument(t *testing.T) {
	for _, in := range []string{"", "  ", "\n"} {
		d, err := shadow.Parse([]byte(in))
		if err != nil || d.Version != 0 || d.State.Reported != nil {
			t.Errorf("Parse(%q) = %+v, %v; want the zero document", in, d, err)
		}
	}
	d := mustParse(t, `{"state":{"reported":{"a":null,"b":{"c":null},"d":1},"delta":{"stale":1}},"version":3}`)
	if got := marshal(t, d.State.Reported); got != `{"d":1}` {
		t.Errorf("nulls and empty objects not dropped: %s", got)
	}
	if d.State.Delta != nil {
		t.Errorf("stored delta trusted: %v", d.State.Delta)
	}
	for _, in := range []string{`{`, `[]`, `{"state":{"reported":1}}`, `{"version":"x"}`, `{} {}`} {
		if _, err := shadow.Parse([]byte(in)); ocppd.ErrorCode(err) != ocppd.EINVALID {
			t.Errorf("Parse(%s): err %v, want EINVALID", in, err)
		}
	}
}

func TestResponses(t *testing.T) {
	d := mustParse(t, `{"state":{"reported":{"a":1,"b":{"c":"x"}}},"metadata":{"reported":{"a":{"timestamp":1700000000},"b":{"c":{"timestamp":1700000000}}}},"version":4,"timestamp":1700000000}`)
	u := mustUpdate(t, `{"state":{"desired":{"a":2,"b":{"c":"x"},"gone":null}},"version":4,"clientToken":"tok-1"}`)
	if err := d.Apply(u, time.Unix(t1, 0)); err != nil {
		t.Fatal(err)
	}

	acc := d.UpdateAccepted(u)
	want := `{"state":{"desired":{"a":2,"b":{"c":"x"},"gone":null}},
		"metadata":{"desired":{"a":{"timestamp":1700000100},"b":{"c":{"timestamp":1700000100}},"gone":{"timestamp":1700000100}}},
		"version":5,"timestamp":1700000100,"clientToken":"tok-1"}`
	if got := marshal(t, acc); canon(t, got) != canon(t, want) {
		t.Errorf("update/accepted\n got %s\nwant %s", got, canon(t, want))
	}

	get := d.GetAccepted("g")
	want = `{"state":{"reported":{"a":1,"b":{"c":"x"}},"desired":{"a":2,"b":{"c":"x"}},"delta":{"a":2}},
		"metadata":{"reported":{"a":{"timestamp":1700000000},"b":{"c":{"timestamp":1700000000}}},
			"desired":{"a":{"timestamp":1700000100},"b":{"c":{"timestamp":1700000100}}}},
		"version":5,"timestamp":1700000100,"clientToken":"g"}`
	if got := marshal(t, get); canon(t, got) != canon(t, want) {
		t.Errorf("get/accepted\n got %s\nwant %s", got, canon(t, want))
	}

	dm, ok := d.DeltaMessage("tok-1")
	if !ok {
		t.Fatal("DeltaMessage: no delta")
	}
	want = `{"state":{"a":2},"metadata":{"a":{"timestamp":1700000100}},"version":5,"timestamp":1700000100,"clientToken":"tok-1"}`
	if got := marshal(t, dm); canon(t, got) != canon(t, want) {
		t.Errorf("update/delta\n got %s\nwant %s", got, canon(t, want))
	}

	clear := mustUpdate(t, `{"state":{"desired":null}}`)
	if err := d.Apply(clear, time.Unix(t1+1, 0)); err != nil {
		t.Fatal(err)
	}
	want = `{"state":{"desired":null},"metadata":{"desired":{"timestamp":1700000101}},"version":6,"timestamp":1700000101}`
	if got := marshal(t, d.UpdateAccepted(clear)); canon(t, got) != canon(t, want) {
		t.Errorf("update/accepted for a clear\n got %s\nwant %s", got, want)
	}
	if _, ok := d.DeltaMessage(""); ok {
		t.Error("DeltaMessage reports a delta when desired is empty")
	}
	if got := marshal(t, shadow.Document{}.GetAccepted("")); got != `{"state":{},"metadata":{},"version":0,"timestamp":0}` {
		t.Errorf("get/accepted of an empty document: %s", got)
	}
}

func TestNewRejected(t *testing.T) {
	now := time.Unix(t1, 0)
	tests := []struct {
		err      error
		wantCode int
		wantMsg  string
	}{
		{ocppd.Errorf(ocppd.EINVALID, "state: missing"), 400, "state: missing"},
		{ocppd.Errorf(ocppd.ENOTFOUND, "no such station"), 404, "no such station"},
		{fmt.Errorf("apply: %w", ocppd.Errorf(ocppd.ECONFLICT, "version conflict")), 409, "version conflict"},
		{errors.New("disk on fire"), 500, "internal error"},
	}
	for _, tt := range tests {
		r := shadow.NewRejected(tt.err, "c", now)
		if r.Code != tt.wantCode || r.Message != tt.wantMsg || r.Timestamp != t1 || r.ClientToken != "c" {
			t.Errorf("NewRejected(%v) = %+v", tt.err, r)
		}
	}
	got := marshal(t, shadow.NewRejected(ocppd.Errorf(ocppd.ECONFLICT, "v"), "", now))
	if want := `{"code":409,"message":"v","timestamp":1700000100}`; got != want {
		t.Errorf("rejected JSON %s, want %s", got, want)
	}
}

func TestUpdateMarshalRoundTrip(t *testing.T) {
	for _, in := range []string{
		`{"state":{"desired":{"a":{"b":1}},"reported":null},"version":3,"clientToken":"x"}`,
		`{"state":{"reported":{"a":[1,null],"z":null}}}`,
		`{"state":{"desired":null}}`,
	} {
		u := mustUpdate(t, in)
		if got := marshal(t, u); canon(t, got) != canon(t, in) {
			t.Errorf("MarshalJSON\n got %s\nwant %s", got, canon(t, in))
		}
	}
}
