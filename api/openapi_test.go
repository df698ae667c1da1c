package api

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes requires the document's paths and methods to be
// exactly the routes registered on the mux, and checks the document's
// internal consistency: every $ref resolves, operation ids are unique, and
// every operation documents 401 (every route needs a token).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		Servers []struct{ URL string }
		Paths   map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != Prefix {
		t.Fatalf("servers = %+v, want one with url %s", doc.Servers, Prefix)
	}
	var documented []string
	ids := map[string]string{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			switch method {
			case "parameters", "summary", "description":
				continue
			}
			op := strings.ToUpper(method) + " " + Prefix + path
			documented = append(documented, op)
			var o struct {
				OperationID string `json:"operationId"`
				Responses   map[string]json.RawMessage
			}
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Errorf("%s: %v", op, err)
				continue
			}
			if o.OperationID == "" {
				t.Errorf("%s has no operationId", op)
			} else if prev, dup := ids[o.OperationID]; dup {
				t.Errorf("operationId %s used by %s and %s", o.OperationID, prev, op)
			}
			ids[o.OperationID] = op
			if _, ok := o.Responses["401"]; !ok {
				t.Errorf("%s does not document 401", op)
			}
		}
	}
	registered := New(Options{}).Routes()
	slices.Sort(documented)
	slices.Sort(registered)
	if !slices.Equal(documented, registered) {
		for _, r := range registered {
			if !slices.Contains(documented, r) {
				t.Errorf("route %s is not in the OpenAPI document", r)
			}
		}
		for _, d := range documented {
			if !slices.Contains(registered, d) {
				t.Errorf("the OpenAPI document has %s, which is not a route", d)
			}
		}
	}

	// Every $ref points at something that exists.
	var whole any
	if err := json.Unmarshal(OpenAPI(), &whole); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if !resolves(whole, ref) {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(whole)
}

func resolves(doc any, ref string) bool {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	cur := doc
	for _, part := range strings.Split(p, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}
