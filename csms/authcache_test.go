package csms

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/v16"
	"github.com/ocppd/ocppd/ocpp/v201"
	"github.com/ocppd/ocppd/store"
)

// answerNext sends the command, answers its CALL with resp and waits for
// the outcome (observers have run when Wait returns).
func answerNext(t *testing.T, e *env, st *station, cp string, req any, resp string) Command {
	t.Helper()
	return answerAction(t, e, st, cp, "", req, resp)
}

// answerAction is answerNext for an action named explicitly (a JSON
// request).
func answerAction(t *testing.T, e *env, st *station, cp, action string, req any, resp string) Command {
	t.Helper()
	ctx := context.Background()
	c, err := e.svc.Send(ctx, cp, action, req)
	if err != nil {
		t.Fatal(err)
	}
	f := st.next()
	st.publish(ocpp.AppendCallResult(nil, f.ID, json.RawMessage(resp)))
	c, err = e.svc.Wait(ctx, c.ID)
	if err != nil || c.State != store.CommandAnswered {
		t.Fatalf("%s: %+v %v", c.Action, c, err)
	}
	return c
}

// TestAuthCacheTracked: ClearCache answers (Accepted: cleared at; Rejected:
// only the last outcome) and the cache's enabled flag from 2.x
// GetVariables/SetVariables/NotifyReport and 1.6
// GetConfiguration/ChangeConfiguration are recorded per station.
func TestAuthCacheTracked(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	get := func(cp string) store.AuthCache {
		t.Helper()
		a, err := e.db.GetAuthCache(ctx, cp)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	enabled := func(a store.AuthCache) string {
		if a.Enabled == nil {
			return "unknown"
		}
		if *a.Enabled {
			return "true"
		}
		return "false"
	}

	e.addCP("CP2", ocppd.RegistrationAccepted, ocpp.V201)
	st := e.station("CP2", ocpp.V201)
	t0 := e.clock.Now()
	answerNext(t, e, st, "CP2", &v201.ClearCacheRequest{}, `{"status":"Accepted"}`)
	if a := get("CP2"); a.LastClearStatus != "Accepted" || !a.ClearedAt.Equal(t0) || enabled(a) != "unknown" {
		t.Fatalf("after Accepted: %+v", a)
	}
	e.clock.Advance(60e9)
	answerNext(t, e, st, "CP2", &v201.ClearCacheRequest{}, `{"status":"Rejected"}`)
	if a := get("CP2"); a.LastClearStatus != "Rejected" || !a.LastClearAt.Equal(t0.Add(60e9)) || !a.ClearedAt.Equal(t0) {
		t.Fatalf("after Rejected: %+v", a)
	}
	answerNext(t, e, st, "CP2", &v201.GetVariablesRequest{GetVariableData: []v201.GetVariableDataType{
		{Component: v201.ComponentType{Name: "AuthCacheCtrlr"}, Variable: v201.VariableType{Name: "Enabled"}}}},
		`{"getVariableResult":[{"attributeStatus":"Accepted","component":{"name":"AuthCacheCtrlr"},"variable":{"name":"Enabled"},"attributeValue":"true"}]}`)
	if a := get("CP2"); enabled(a) != "true" {
		t.Fatalf("after GetVariables: %+v", a)
	}
	e.clock.Advance(1e9)
	answerNext(t, e, st, "CP2", &v201.SetVariablesRequest{SetVariableData: []v201.SetVariableDataType{
		{Component: v201.ComponentType{Name: "AuthCacheCtrlr"}, Variable: v201.VariableType{Name: "Enabled"}, AttributeValue: "false"}}},
		`{"setVariableResult":[{"attributeStatus":"Accepted","component":{"name":"AuthCacheCtrlr"},"variable":{"name":"Enabled"}}]}`)
	if a := get("CP2"); enabled(a) != "false" {
		t.Fatalf("after SetVariables: %+v", a)
	}
	e.clock.Advance(1e9)
	answerNext(t, e, st, "CP2", &v201.SetVariablesRequest{SetVariableData: []v201.SetVariableDataType{
		{Component: v201.ComponentType{Name: "AuthCacheCtrlr"}, Variable: v201.VariableType{Name: "Enabled"}, AttributeValue: "true"}}},
		`{"setVariableResult":[{"attributeStatus":"Rejected","component":{"name":"AuthCacheCtrlr"},"variable":{"name":"Enabled"}}]}`)
	if a := get("CP2"); enabled(a) != "false" {
		t.Fatalf("a rejected SetVariables changed it: %+v", a)
	}
	e.clock.Advance(1e9)
	st.call("NotifyReport", map[string]any{"requestId": 1, "generatedAt": e.clock.Now(), "seqNo": 0,
		"reportData": []any{map[string]any{"component": map[string]any{"name": "AuthCacheCtrlr"}, "variable": map[string]any{"name": "Enabled"},
			"variableAttribute": []any{map[string]any{"type": "Actual", "value": "true"}}}}}, nil)
	eventually(t, "NotifyReport recorded", func() bool { return enabled(get("CP2")) == "true" })

	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V16)
	st16 := e.station("CP1", ocpp.V16)
	answerNext(t, e, st16, "CP1", &v16.GetConfigurationRequest{}, `{"configurationKey":[{"key":"AuthorizationCacheEnabled","readonly":false,"value":"false"}]}`)
	if a := get("CP1"); enabled(a) != "false" || a.LastClearStatus != "" {
		t.Fatalf("1.6 after GetConfiguration: %+v", a)
	}
	e.clock.Advance(1e9)
	answerNext(t, e, st16, "CP1", &v16.ChangeConfigurationRequest{Key: "AuthorizationCacheEnabled", Value: "true"}, `{"status":"Accepted"}`)
	answerNext(t, e, st16, "CP1", &v16.ClearCacheRequest{}, `{"status":"Accepted"}`)
	if a := get("CP1"); enabled(a) != "true" || a.LastClearStatus != "Accepted" || !a.ClearedAt.Equal(e.clock.Now()) {
		t.Fatalf("1.6 after ChangeConfiguration and ClearCache: %+v", a)
	}
}
