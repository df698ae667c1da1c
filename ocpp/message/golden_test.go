package message_test

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/message"
)

// golden is one line of a testdata/<version>.txt file.
type golden struct {
	line   int
	expect string
	path   string
	action string
	frame  string
}

func readGolden(t testing.TB, name string) []golden {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []golden
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		parts := strings.SplitN(line, " ", 4)
		if len(parts) != 4 {
			t.Fatalf("%s:%d: want 4 fields", name, n)
		}
		out = append(out, golden{line: n, expect: parts[0], path: parts[1], action: parts[2], frame: parts[3]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// process handles a frame as ocppd does: parse the frame, check its type
// against the version, decode the payload. It returns "ok" or the
// CALLERROR code and the path of the field at fault.
func process(v ocpp.Version, frame []byte, resultAction string) (code, path string, msg any) {
	f, ferr := ocpp.Parse(frame)
	if ferr != nil {
		return v.ErrorCode(ferr.Kind), "-", nil
	}
	if !v.Supports(f.Type) {
		return v.ErrorCode(ocpp.ErrMessageTypeNotSupported), "-", nil
	}
	var err error
	switch f.Type {
	case ocpp.Call, ocpp.Send:
		msg, err = message.DecodeRequest(v, f.Action, f.Payload, ocpp.DecodeOptions{})
	case ocpp.CallResult:
		msg, err = message.DecodeResponse(v, resultAction, f.Payload, ocpp.DecodeOptions{})
	}
	if err != nil {
		var ve *ocpp.ValidationError
		if !errors.As(err, &ve) {
			return "not a ValidationError: " + err.Error(), "-", nil
		}
		p := ve.Path
		if p == "" {
			p = "-"
		}
		return ve.Code(v), p, nil
	}
	return "ok", "-", msg
}

func TestGoldenFrames(t *testing.T) {
	for _, tc := range []struct {
		v    ocpp.Version
		file string
	}{{ocpp.V16, "v16.txt"}, {ocpp.V201, "v201.txt"}, {ocpp.V21, "v21.txt"}} {
		t.Run(tc.file, func(t *testing.T) {
			codes := map[string]bool{"ok": true}
			for _, c := range tc.v.ErrorCodes() {
				codes[c] = true
			}
			for _, g := range readGolden(t, tc.file) {
				if !codes[g.expect] {
					t.Errorf("line %d: %q is not a CALLERROR code of %s", g.line, g.expect, tc.v)
				}
				code, path, msg := process(tc.v, []byte(g.frame), g.action)
				if code != g.expect || path != g.path {
					t.Errorf("line %d: got %s at %s, want %s at %s\n%s", g.line, code, path, g.expect, g.path, g.frame)
					continue
				}
				if msg == nil {
					continue
				}
				// Valid messages validate as outbound messages too and
				// survive an encode/decode round trip.
				if err := message.Validate(tc.v, msg); err != nil {
					t.Errorf("line %d: Validate: %v", g.line, err)
				}
				enc, err := message.Encode(msg)
				if err != nil {
					t.Fatalf("line %d: Encode: %v", g.line, err)
				}
				v, action, request, ok := message.Action(msg)
				if !ok || v != tc.v {
					t.Fatalf("line %d: Action(%T) = %v %v", g.line, msg, v, ok)
				}
				var again any
				if request {
					again, err = message.DecodeRequest(v, action, enc, ocpp.DecodeOptions{})
				} else {
					again, err = message.DecodeResponse(v, action, enc, ocpp.DecodeOptions{})
				}
				if err != nil {
					t.Errorf("line %d: re-decode %s: %v", g.line, enc, err)
				} else if enc2, _ := message.Encode(again); string(enc2) != string(enc) {
					t.Errorf("line %d: round trip differs:\n%s\n%s", g.line, enc, enc2)
				}
			}
		})
	}
}

// TestCallErrorAnswers checks the answers to frames that fail to parse,
// for the OCPP 2.1 message types CALLRESULTERROR and SEND in particular.
func TestCallErrorAnswers(t *testing.T) {
	for _, tc := range []struct {
		v     ocpp.Version
		frame string
		want  string // "" when no answer is due
	}{
		// A SEND is never answered, not even when malformed.
		{ocpp.V21, `[6,"1","NotifyPeriodicEventStream"]`, ``},
		// A malformed CALLRESULT is answered with a CALLRESULTERROR in 2.1 only.
		{ocpp.V21, `[3,"1"]`, `[5,"1","FormatViolation","payload is missing",{}]`},
		{ocpp.V201, `[3,"1"]`, ``},
		// A malformed CALLRESULTERROR is not answered.
		{ocpp.V21, `[5,"1","InternalError"]`, ``},
		// A CALL with an unreadable id is answered with id "-1".
		{ocpp.V16, `[2,5,"Heartbeat",{}]`, `[4,"-1","ProtocolError","message id is missing or not a string",{}]`},
		{ocpp.V201, `[9,"7"]`, `[4,"7","MessageTypeNotSupported","message type 9 is not supported",{}]`},
	} {
		_, ferr := ocpp.Parse([]byte(tc.frame))
		if ferr == nil {
			t.Fatalf("%s: parsed", tc.frame)
		}
		if got := string(ocpp.CallErrorFrame(tc.v, ferr)); got != tc.want {
			t.Errorf("%s %s: answer %s, want %s", tc.v, tc.frame, got, tc.want)
		}
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
