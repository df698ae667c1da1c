package api

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ocppd/ocppd"
)

// FuzzDecode feeds arbitrary request bodies to the API's JSON decoding:
// it never panics, and every refusal is an *Error with a client code (the
// handlers answer it as 4xx, never 500).
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"password":"0123456789abcdef"}`, `{"generate":true}`, `{}`, `[]`, `null`, ``,
		`{"password":1}`, `{"unknown":1}`, `{"password":"x"} {}`, `{"password":"\u0000"}`,
		`{"password":"` + strings.Repeat("a", 5000) + `"}`, `{"a":{"b":{"c":[[[[[[]]]]]]}}}`, "\xff\xfe",
		`{"password":"x","password":"y"}`, `{"generate":"yes"}`, `{"id":"CP1","status":"Accepted"}`,
	} {
		f.Add(s, "application/json")
	}
	f.Add(`{}`, "text/plain")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		for _, v := range []any{new(setPassword), new(map[string]any), new(json.RawMessage), new([]string)} {
			r := httptest.NewRequest("PUT", "/api/v1/x", strings.NewReader(body))
			r.Header.Set("Content-Type", contentType)
			err := decode(httptest.NewRecorder(), r, v)
			if err == nil {
				continue
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("decode(%q) = %T %v, want *Error", body, err, err)
			}
			if e.Code != ocppd.EINVALID && e.Code != "too_large" {
				t.Fatalf("decode(%q): code %q", body, e.Code)
			}
		}
	})
}
