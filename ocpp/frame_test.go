package ocpp

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	cases := []struct {
		in   string
		want Frame
	}{
		{`[2,"19223201","BootNotification",{"reason":"PowerUp"}]`, Frame{Type: Call, ID: "19223201", Action: "BootNotification", Payload: json.RawMessage(`{"reason":"PowerUp"}`)}},
		{" [ 2 , \"a\" , \"Heartbeat\" , { } ] \n", Frame{Type: Call, ID: "a", Action: "Heartbeat", Payload: json.RawMessage(`{ }`)}},
		{`[3,"x",{"currentTime":"2026-01-01T00:00:00Z"}]`, Frame{Type: CallResult, ID: "x", Payload: json.RawMessage(`{"currentTime":"2026-01-01T00:00:00Z"}`)}},
		{`[4,"x","NotImplemented","no",{}]`, Frame{Type: CallError, ID: "x", ErrorCode: "NotImplemented", ErrorDescription: "no", Payload: json.RawMessage(`{}`)}},
		{`[5,"x","FormatViolation","bad",{"a":[1,{"b":"}"}]}]`, Frame{Type: CallResultError, ID: "x", ErrorCode: "FormatViolation", ErrorDescription: "bad", Payload: json.RawMessage(`{"a":[1,{"b":"}"}]}`)}},
		{`[6,"s","NotifyPeriodicEventStream",{"id":1}]`, Frame{Type: Send, ID: "s", Action: "NotifyPeriodicEventStream", Payload: json.RawMessage(`{"id":1}`)}},
		{`[2,"a\"b","A\u0063tion",{}]`, Frame{Type: Call, ID: `a"b`, Action: "Action", Payload: json.RawMessage(`{}`)}},
		{`[2,"` + strings.Repeat("i", 36) + `","Heartbeat",{}]`, Frame{Type: Call, ID: strings.Repeat("i", 36), Action: "Heartbeat", Payload: json.RawMessage(`{}`)}},
	}
	for _, c := range cases {
		got, err := Parse([]byte(c.in))
		if err != nil {
			t.Errorf("Parse(%s): %v", c.in, err)
			continue
		}
		if got.Type != c.want.Type || got.ID != c.want.ID || got.Action != c.want.Action ||
			got.ErrorCode != c.want.ErrorCode || got.ErrorDescription != c.want.ErrorDescription ||
			string(got.Payload) != string(c.want.Payload) {
			t.Errorf("Parse(%s) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	long := strings.Repeat("i", 37)
	cases := []struct {
		in     string
		kind   ErrorKind
		id     string
		code16 string
		code2x string
	}{
		{`not json`, ErrFormat, "-1", "FormationViolation", "FormatViolation"},
		{`{"a":1}`, ErrRPCFramework, "-1", "ProtocolError", "RpcFrameworkError"},
		{`[]`, ErrRPCFramework, "-1", "ProtocolError", "RpcFrameworkError"},
		{`["2","id","Heartbeat",{}]`, ErrRPCFramework, "-1", "ProtocolError", "RpcFrameworkError"},
		{`[2]`, ErrRPCFramework, "-1", "ProtocolError", "RpcFrameworkError"},
		{`[2,17,"Heartbeat",{}]`, ErrRPCFramework, "-1", "ProtocolError", "RpcFrameworkError"},
		{`[2,"","Heartbeat",{}]`, ErrRPCFramework, "-1", "ProtocolError", "RpcFrameworkError"},
		{`[7,"abc","Heartbeat",{}]`, ErrMessageTypeNotSupported, "abc", "ProtocolError", "MessageTypeNotSupported"},
		{`[2.5,"abc","Heartbeat",{}]`, ErrRPCFramework, "-1", "ProtocolError", "RpcFrameworkError"},
		{`[2,"` + long + `","Heartbeat",{}]`, ErrRPCFramework, "-1", "ProtocolError", "RpcFrameworkError"},
		{`[2,"abc","Heartbeat","notobject"]`, ErrFormat, "abc", "FormationViolation", "FormatViolation"},
		{`[2,"abc","Heartbeat"]`, ErrFormat, "abc", "FormationViolation", "FormatViolation"},
		{`[2,"abc",3,{}]`, ErrRPCFramework, "abc", "ProtocolError", "RpcFrameworkError"},
		{`[2,"abc","Heartbeat",{},{}]`, ErrRPCFramework, "abc", "ProtocolError", "RpcFrameworkError"},
		{`[3,"abc",[]]`, ErrFormat, "abc", "FormationViolation", "FormatViolation"},
		{`[4,"abc","X",{}]`, ErrRPCFramework, "abc", "ProtocolError", "RpcFrameworkError"},
		{"[2,\"a\xffb\",\"Heartbeat\",{}]", ErrFormat, "-1", "FormationViolation", "FormatViolation"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.in))
		if err == nil {
			t.Errorf("Parse(%s) succeeded, want %v", c.in, c.kind)
			continue
		}
		if err.Kind != c.kind || err.ID != c.id {
			t.Errorf("Parse(%s) = kind %v id %q (%s), want kind %v id %q", c.in, err.Kind, err.ID, err.Message, c.kind, c.id)
		}
		if got := V16.ErrorCode(err.Kind); got != c.code16 {
			t.Errorf("Parse(%s): 1.6 code %s, want %s", c.in, got, c.code16)
		}
		for _, v := range []Version{V201, V21} {
			if got := v.ErrorCode(err.Kind); got != c.code2x {
				t.Errorf("Parse(%s): %s code %s, want %s", c.in, v, got, c.code2x)
			}
		}
	}
}

func TestCallErrorFrame(t *testing.T) {
	// A malformed CALL is answered with a CALLERROR that is itself valid.
	_, ferr := Parse([]byte(`[2,"abc","Heartbeat","x"]`))
	out := CallErrorFrame(V201, ferr)
	f, err := Parse(out)
	if err != nil || f.Type != CallError || f.ID != "abc" || f.ErrorCode != "FormatViolation" {
		t.Fatalf("answer %s parsed as %+v, %v", out, f, err)
	}
	// A malformed CALLRESULT is not answered before 2.1, and answered with
	// a CALLRESULTERROR in 2.1.
	_, ferr = Parse([]byte(`[3,"abc",[]]`))
	if out := CallErrorFrame(V201, ferr); out != nil {
		t.Errorf("2.0.1 answered a malformed CALLRESULT: %s", out)
	}
	out = CallErrorFrame(V21, ferr)
	if f, err := Parse(out); err != nil || f.Type != CallResultError || f.ID != "abc" {
		t.Errorf("2.1 answer %s parsed as %+v, %v", out, f, err)
	}
	// A SEND or CALLRESULTERROR in 2.0.1 is a type the version lacks.
	fe := &FrameError{Kind: ErrMessageTypeNotSupported, ID: "s1", Type: Send, Message: "no"}
	if f, err := Parse(CallErrorFrame(V201, fe)); err != nil || f.ErrorCode != "MessageTypeNotSupported" || f.ID != "s1" {
		t.Errorf("2.0.1 SEND answer: %+v %v", f, err)
	}
	if out := CallErrorFrame(V21, fe); out != nil {
		t.Errorf("2.1 answered a SEND: %s", out)
	}
}

func TestAppend(t *testing.T) {
	long := strings.Repeat("é", 300)
	frames := [][]byte{
		AppendCall(nil, "id\"1", "Reset", json.RawMessage(`{"type":"Immediate"}`)),
		AppendCallResult(nil, "x", nil),
		AppendCallError(nil, "x", "GenericError", long+"\x00\xff", nil),
	}
	for _, b := range frames {
		if !json.Valid(b) {
			t.Fatalf("invalid JSON: %q", b)
		}
		f, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(%s): %v", b, err)
		}
		if f.Type == CallError && len([]rune(f.ErrorDescription)) != MaxErrorDescriptionLen {
			t.Errorf("description has %d characters, want %d", len([]rune(f.ErrorDescription)), MaxErrorDescriptionLen)
		}
	}
}

func TestValidateIdentity(t *testing.T) {
	for _, id := range []string{"CP1", "a*b-c_d=e+f|g@h.i", strings.Repeat("x", 48)} {
		if err := ValidateIdentity(id); err != nil {
			t.Errorf("ValidateIdentity(%q): %v", id, err)
		}
	}
	for _, id := range []string{"", strings.Repeat("x", 49), "a/b", "..", "a b", "a:b", "é", "a%2Fb"} {
		if err := ValidateIdentity(id); err == nil {
			t.Errorf("ValidateIdentity(%q) accepted", id)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`[2,"1","BootNotification",{"reason":"PowerUp"}]`, `[3,"1",{}]`, `[4,"1","X","y",{}]`,
		`[5,"1","X","y",{}]`, `[6,"1","A",{}]`, `[`, `[2,"\u00e9",`, `{}`, `[2,"a","b",{"c":[{"d":"]"}]}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Parse(b)
		if err != nil {
			for _, v := range Versions {
				if out := CallErrorFrame(v, err); out != nil && !json.Valid(out) {
					t.Fatalf("invalid CALLERROR %q for %q", out, b)
				}
			}
			return
		}
		if !json.Valid(fr.Payload) || len(fr.ID) > MaxMessageIDLen || fr.ID == "" {
			t.Fatalf("accepted bad frame %q: %+v", b, fr)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	frame := []byte(`[2,"0678cb2a-a7a2-42bc-8037-d01164e77ac6","BootNotification",{"chargingStation":{"model":"ABC 123 XYZ","vendorName":"Acme Electrical Systems","firmwareVersion":"10.9.8.ABC","serialNumber":"CP1234567890A01","modem":{"iccid":"891004234814455936F","imsi":"310410123456789"}},"reason":"PowerUp"}]`)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseHeartbeat(b *testing.B) {
	frame := []byte(`[2,"9b7933a7-5216-496d-9bb0-dae45014bb98","Heartbeat",{}]`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(frame); err != nil {
			b.Fatal(err)
		}
	}
}
