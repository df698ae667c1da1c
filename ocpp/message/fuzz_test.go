package message_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/message"
)

var fuzzVersions = []ocpp.Version{ocpp.V16, ocpp.V201, ocpp.V21}

// FuzzDecode feeds arbitrary payloads to the decoders of every version.
// Whatever the input: no panic; an error is an *ocpp.ValidationError whose
// description fits a CALLERROR; an accepted payload is valid JSON, passes
// Validate, and encodes to a payload that decodes to the same encoding.
// The seed corpus is the golden frames of testdata/.
func FuzzDecode(f *testing.F) {
	for i, file := range []string{"v16.txt", "v201.txt", "v21.txt"} {
		for _, g := range readGolden(f, file) {
			fr, ferr := ocpp.Parse([]byte(g.frame))
			if ferr != nil {
				continue
			}
			action, req := fr.Action, true
			if fr.Type == ocpp.CallResult {
				action, req = g.action, false
			}
			if action == "" || action == "-" {
				continue
			}
			f.Add(uint8(i), action, req, []byte(fr.Payload))
		}
	}
	f.Fuzz(func(t *testing.T, vi uint8, action string, req bool, payload []byte) {
		v := fuzzVersions[int(vi)%len(fuzzVersions)]
		// Spend the time in the decoders: an action the version lacks is
		// replaced by one it has (unknown actions are unit-tested).
		if acts := message.Actions(v); !slices.Contains(acts, action) {
			action = acts[len(action)%len(acts)]
		}
		for _, lenient := range []bool{false, true} {
			opts := ocpp.DecodeOptions{Lenient: lenient, Warn: func(path, msg string) {}}
			var msg any
			var err error
			if req {
				msg, err = message.DecodeRequest(v, action, payload, opts)
			} else {
				msg, err = message.DecodeResponse(v, action, payload, opts)
			}
			if err != nil {
				var ve *ocpp.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("error %T %v is not a ValidationError", err, err)
				}
				if utf8.RuneCountInString(ve.Error()) > ocpp.MaxErrorDescriptionLen {
					t.Fatalf("description too long: %q", ve.Error())
				}
				continue
			}
			if !json.Valid(payload) {
				t.Fatalf("accepted invalid JSON %q", payload)
			}
			if !lenient {
				if err := message.Validate(v, msg); err != nil {
					t.Fatalf("decoded message fails Validate: %v\n%s", err, payload)
				}
			}
			enc, err := message.Encode(msg)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			var again any
			if req {
				again, err = message.DecodeRequest(v, action, enc, opts)
			} else {
				again, err = message.DecodeResponse(v, action, enc, opts)
			}
			if err != nil {
				t.Fatalf("our encoding %s of %s does not decode: %v", enc, payload, err)
			}
			if enc2, _ := message.Encode(again); string(enc2) != string(enc) {
				t.Fatalf("round trip differs:\n%s\n%s", enc, enc2)
			}
		}
	})
}
