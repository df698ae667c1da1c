package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ocppd/ocppd/csms"
	"github.com/ocppd/ocppd/rules"
	"github.com/ocppd/ocppd/store"
)

func TestCommands(t *testing.T) {
	var svc *csms.Service
	e := newEnv(t, func(o *Options) {
		svc = csms.New(csms.Options{Bus: o.Bus, Topics: o.Topics, Store: o.Store, PollInterval: 50 * time.Millisecond})
		o.Commands = svc
	})
	ctx := context.Background()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	e.addCP("CP1", "NEVER")
	if err := e.store.RecordConnected(ctx, store.Connection{ChargePointID: "CP1", SessionID: "s1", Protocol: "ocpp2.0.1", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// The station's side: answer every CALL on CP1/out.
	answered := make(chan string, 10)
	sub, err := e.bus.Subscribe(ctx, e.topics.Out("CP1"), func(m busMessage) {
		var frame []json.RawMessage
		if json.Unmarshal(m.Payload, &frame) != nil || string(frame[0]) != "2" {
			return
		}
		var id string
		_ = json.Unmarshal(frame[1], &id)
		answered <- id
		go e.publish(e.topics.In("CP1"), fmt.Sprintf(`[3,%q,{"status":"Accepted"}]`, id))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe(ctx)

	r := e.do("POST", "/api/v1/chargepoints/CP1/commands?wait=20s", e.admin, map[string]any{"action": "Reset", "payload": map[string]any{"type": "Immediate"}})
	want(t, r, http.StatusCreated)
	var c store.Command
	r.decode(t, &c)
	if c.State != store.CommandAnswered || string(c.Response) != `{"status":"Accepted"}` || c.Action != "Reset" {
		t.Fatalf("command = %+v", c)
	}
	if r.header.Get("Location") != "/api/v1/commands/"+c.ID {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
	// Without wait: 201 at once; read the result later.
	r = e.do("POST", "/api/v1/chargepoints/CP1/commands", e.admin, map[string]any{"action": "TriggerMessage", "payload": map[string]any{"requestedMessage": "Heartbeat"}})
	want(t, r, http.StatusCreated)
	r.decode(t, &c)
	r = e.do("GET", "/api/v1/commands/"+c.ID+"?wait=20s", e.admin, nil)
	want(t, r, http.StatusOK)
	r.decode(t, &c)
	if c.State != store.CommandAnswered {
		t.Errorf("after wait: %+v", c)
	}
	var l List[store.Command]
	e.do("GET", "/api/v1/commands?cp=CP1&action=Reset", e.admin, nil).decode(t, &l)
	if len(l.Items) != 1 || l.Items[0].Action != "Reset" {
		t.Errorf("list = %+v", l)
	}

	// Bad input, unknown station, unknown command.
	want(t, e.do("POST", "/api/v1/chargepoints/CP1/commands", e.admin, map[string]any{"payload": map[string]any{}}), http.StatusBadRequest, "action")
	want(t, e.do("POST", "/api/v1/chargepoints/CP1/commands", e.admin, map[string]any{"action": "Reset"}), http.StatusBadRequest, "payload")
	want(t, e.do("POST", "/api/v1/chargepoints/CP1/commands", e.admin, map[string]any{"action": "Reset", "payload": map[string]any{"type": "Sideways"}}), http.StatusBadRequest, "payload")
	want(t, e.do("POST", "/api/v1/chargepoints/CP1/commands", e.admin, map[string]any{"action": "Reset", "payload": map[string]any{"type": "Immediate"}, "timeout": "soon"}), http.StatusBadRequest, "timeout")
	want(t, e.do("POST", "/api/v1/chargepoints/CP1/commands?wait=forever", e.admin, map[string]any{"action": "Reset", "payload": map[string]any{}}), http.StatusBadRequest, "wait")
	want(t, e.do("POST", "/api/v1/chargepoints/NOPE/commands", e.admin, map[string]any{"action": "Reset", "payload": map[string]any{"type": "Immediate"}}), http.StatusNotFound)
	want(t, e.do("GET", "/api/v1/commands/nope", e.admin, nil), http.StatusNotFound)
	want(t, e.do("GET", "/api/v1/commands?state=lost", e.admin, nil), http.StatusBadRequest, "state")

	// A process without the CSMS cannot send.
	bare := newEnv(t)
	bare.addCP("CP1")
	want(t, bare.do("POST", "/api/v1/chargepoints/CP1/commands", bare.admin, map[string]any{"action": "Reset", "payload": map[string]any{}}), http.StatusNotImplemented)
}

func TestIDTokens(t *testing.T) {
	e := newEnv(t)
	r := e.do("PUT", "/api/v1/idtokens/CARD1", e.admin, map[string]any{"type": "ISO14443", "status": "Accepted", "expiresAt": "2030-01-01T00:00:00Z"})
	want(t, r, http.StatusOK)
	var tok store.IDToken
	r.decode(t, &tok)
	if tok.Token != "CARD1" || tok.Status != "Accepted" || tok.ExpiresAt.Year() != 2030 {
		t.Errorf("put = %+v", tok)
	}
	want(t, e.do("PUT", "/api/v1/idtokens/CARD2", e.admin, map[string]any{"type": "ISO14443", "status": "Blocked"}), http.StatusOK)
	want(t, e.do("PUT", "/api/v1/idtokens/CARD3", e.admin, map[string]any{"status": "Accepted"}), http.StatusOK)
	want(t, e.do("PUT", "/api/v1/idtokens/CARD1", e.admin, map[string]any{"type": "ISO14443", "status": "Sure"}), http.StatusBadRequest, "status")
	want(t, e.do("PUT", "/api/v1/idtokens/CARD1", e.admin, map[string]any{"type": "ISO14443"}), http.StatusBadRequest, "status")
	want(t, e.do("PUT", "/api/v1/idtokens/CARD1", e.admin, map[string]any{"status": "Accepted", "expiresAt": "tomorrow"}), http.StatusBadRequest, "expiresAt")
	want(t, e.do("PUT", "/api/v1/idtokens/"+strings.Repeat("x", 256), e.admin, map[string]any{"status": "Accepted"}), http.StatusBadRequest, "token")

	var l List[store.IDToken]
	e.do("GET", "/api/v1/idtokens?limit=2", e.admin, nil).decode(t, &l)
	if len(l.Items) != 2 || l.Items[0].Token != "CARD1" || l.Next != "CARD2" {
		t.Fatalf("page = %+v", l)
	}
	l = List[store.IDToken]{}
	e.do("GET", "/api/v1/idtokens?after=CARD2", e.admin, nil).decode(t, &l)
	if len(l.Items) != 1 || l.Items[0].Token != "CARD3" || l.Next != "" {
		t.Errorf("second page = %+v", l)
	}
	want(t, e.do("GET", "/api/v1/idtokens/card1", e.admin, nil), http.StatusOK) // case-insensitive
	want(t, e.do("GET", "/api/v1/idtokens/NOPE", e.admin, nil), http.StatusNotFound)
	want(t, e.do("DELETE", "/api/v1/idtokens/CARD2", e.admin, nil), http.StatusNoContent)
	want(t, e.do("DELETE", "/api/v1/idtokens/CARD2", e.admin, nil), http.StatusNotFound)
}

func TestTransactionsAndMeterValues(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.addCP("CP1", "CP2")
	base := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	for i, cp := range []string{"CP1", "CP1", "CP2"} {
		start := base.Add(time.Duration(i) * time.Hour)
		_, _, err := e.store.ApplyTransactionUpdate(ctx, store.TransactionUpdate{
			ChargePointID: cp, TransactionID: fmt.Sprintf("T%d", i), EventKey: fmt.Sprintf("T%d#0", i), EventType: "Started",
			Timestamp: start, At: start,
			Apply: func(tx *store.Transaction, _ bool) error {
				tx.Protocol, tx.StartedAt, tx.State, tx.IDToken = "ocpp2.0.1", start, store.TransactionActive, fmt.Sprintf("TAG%d", i%2)
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	ids := func(q string) string {
		t.Helper()
		var l List[store.Transaction]
		r := e.do("GET", "/api/v1/transactions"+q, e.admin, nil)
		want(t, r, http.StatusOK)
		r.decode(t, &l)
		out := ""
		for _, x := range l.Items {
			out += x.TransactionID
		}
		if l.Next != "" {
			out += ">" + l.Next
		}
		return out
	}
	for q, w := range map[string]string{
		"":                                  "T2T1T0",
		"?cp=CP1":                           "T1T0",
		"?idToken=TAG0":                     "T2T0",
		"?from=2025-06-01T11:00:00Z":        "T2T1",
		"?to=2025-06-01T11:00:00Z":          "T0",
		"?limit=2":                          "T2T1>2",
		"?limit=2&after=2":                  "T0",
		"?state=ended":                      "",
		"?cp=CP1&from=2025-06-01T10:30:00Z": "T1",
	} {
		if got := ids(q); got != w {
			t.Errorf("transactions%s = %s, want %s", q, got, w)
		}
	}
	for q, field := range map[string]string{
		"?from=yesterday": "from", "?state=paused": "state", "?after=x": "after",
		"?from=2025-06-02T00:00:00Z&to=2025-06-01T00:00:00Z": "to", "?limit=-1": "limit",
	} {
		want(t, e.do("GET", "/api/v1/transactions"+q, e.admin, nil), http.StatusBadRequest, field)
	}
	want(t, e.do("GET", "/api/v1/chargepoints/CP1/transactions/T0", e.admin, nil), http.StatusOK)
	want(t, e.do("GET", "/api/v1/chargepoints/CP2/transactions/T0", e.admin, nil), http.StatusNotFound)

	// Meter values: 10 samples a minute apart of two measurands.
	var samples []store.MeterSample
	for i := range 10 {
		ts := base.Add(time.Duration(i) * time.Minute)
		samples = append(samples,
			store.MeterSample{ChargePointID: "CP1", Timestamp: ts, Measurand: "Energy.Active.Import.Register", Unit: "Wh", Location: "Outlet", Context: "Sample.Periodic", Value: float64(1000 + 100*i)},
			store.MeterSample{ChargePointID: "CP1", Timestamp: ts, Measurand: "Power.Active.Import", Unit: "W", Location: "Outlet", Context: "Sample.Periodic", Value: float64(i % 2 * 1000)})
	}
	if err := e.store.AddMeterSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	var raw List[store.MeterSample]
	e.do("GET", "/api/v1/chargepoints/CP1/metervalues?measurand=Power.Active.Import&limit=3", e.admin, nil).decode(t, &raw)
	if len(raw.Items) != 3 || raw.Items[0].Measurand != "Power.Active.Import" {
		t.Errorf("raw = %+v", raw)
	}
	var ms MeterSeries
	r := e.do("GET", "/api/v1/chargepoints/CP1/metervalues?step=5m&from=2025-06-01T10:00:00Z&to=2025-06-01T11:00:00Z", e.admin, nil)
	want(t, r, http.StatusOK)
	r.decode(t, &ms)
	if len(ms.Series) != 2 {
		t.Fatalf("series = %s", r.body)
	}
	for _, sr := range ms.Series {
		if len(sr.Points) != 2 || sr.Points[0].Count != 5 || !sr.Points[1].T.Equal(base.Add(5*time.Minute)) {
			t.Errorf("%s points = %+v", sr.Measurand, sr.Points)
		}
		switch sr.Measurand {
		case "Energy.Active.Import.Register":
			if p := sr.Points[1]; p.Min != 1500 || p.Max != 1900 || p.Last != 1900 || p.Avg != 1700 {
				t.Errorf("energy point %+v", p)
			}
		case "Power.Active.Import":
			if p := sr.Points[0]; p.Avg != 400 || p.Min != 0 || p.Max != 1000 {
				t.Errorf("power point %+v", p)
			}
		}
	}
	want(t, e.do("GET", "/api/v1/chargepoints/CP1/metervalues?step=1ms", e.admin, nil), http.StatusBadRequest, "step")
	want(t, e.do("GET", "/api/v1/chargepoints/CP1/metervalues?step=1s&from=2025-01-01T00:00:00Z&to=2025-06-01T00:00:00Z", e.admin, nil), http.StatusBadRequest, "step")
	want(t, e.do("GET", "/api/v1/chargepoints/CP1/metervalues?from=x", e.admin, nil), http.StatusBadRequest, "from")
	want(t, e.do("GET", "/api/v1/chargepoints/NOPE/metervalues", e.admin, nil), http.StatusNotFound)
}

func TestPassword(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.addCP("CP1", "OLD")
	if err := e.store.RecordConnected(ctx, store.Connection{ChargePointID: "OLD", SessionID: "s", Protocol: "ocpp1.6", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	want(t, e.do("PUT", "/api/v1/chargepoints/CP1/password", e.admin, map[string]any{"password": "correct-horse-battery-staple"}), http.StatusNoContent)
	creds, err := e.store.GetCredentials(ctx, "CP1")
	if err != nil || !strings.HasPrefix(creds.PasswordHash, "$argon2id$") {
		t.Errorf("stored %+v, %v", creds, err)
	}
	r := e.do("PUT", "/api/v1/chargepoints/OLD/password", e.admin, map[string]any{"generate": true})
	want(t, r, http.StatusOK)
	var gen struct{ Password string }
	r.decode(t, &gen)
	if len(gen.Password) != 40 {
		t.Errorf("generated 1.6 key %q, want 40 hex digits", gen.Password)
	}
	want(t, e.do("PUT", "/api/v1/chargepoints/CP1/password", e.admin, map[string]any{"password": "short"}), http.StatusBadRequest, "password")
	want(t, e.do("PUT", "/api/v1/chargepoints/OLD/password", e.admin, map[string]any{"password": "not-hex-not-hex-not-hex-not-hex!"}), http.StatusBadRequest, "password")
	want(t, e.do("PUT", "/api/v1/chargepoints/CP1/password", e.admin, map[string]any{}), http.StatusBadRequest, "password")
	want(t, e.do("PUT", "/api/v1/chargepoints/NOPE/password", e.admin, map[string]any{"generate": true}), http.StatusNotFound)
	want(t, e.do("DELETE", "/api/v1/chargepoints/CP1/password", e.admin, nil), http.StatusNoContent)
	if creds, _ := e.store.GetCredentials(ctx, "CP1"); creds.PasswordHash != "" {
		t.Error("DELETE left the password")
	}
	want(t, e.do("DELETE", "/api/v1/chargepoints/NOPE/password", e.admin, nil), http.StatusNotFound)
}

func TestRules(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Rules = rules.New(rules.Options{Bus: o.Bus, Topics: o.Topics, Store: o.Store, PollInterval: -1,
			Static: []rules.Rule{{Name: "fromconfig", SQL: "SELECT * FROM '+/in'", Actions: []rules.Action{{Log: &rules.LogAction{}}}, Enabled: true}}})
	})
	eng := e.srv.opts.Rules.(*rules.Engine)
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })

	rule := `{"name":"heartbeats","sql":"SELECT topic(1) AS chargePointId, timestamp() AS lastTimestamp FROM '+/in' WHERE get(*, 2) = 'Heartbeat'","actions":[{"table":{"name":"chargePointHeartbeat","key":"chargePointId"}}]}`
	r := e.do("POST", "/api/v1/rules", e.admin, rule)
	want(t, r, http.StatusCreated)
	var v struct {
		Name, Source string
		Enabled      bool
		Stats        *rules.RuleStats
	}
	r.decode(t, &v)
	if v.Name != "heartbeats" || !v.Enabled || v.Source != "api" {
		t.Errorf("created %+v", v)
	}
	want(t, e.do("POST", "/api/v1/rules", e.admin, rule), http.StatusConflict)
	want(t, e.do("POST", "/api/v1/rules", e.admin, `{"name":"bad","sql":"SELEKT","actions":[{"log":{}}]}`), http.StatusBadRequest, "sql")
	want(t, e.do("POST", "/api/v1/rules", e.admin, `{"name":"bad","sql":"SELECT * FROM 'x'","actions":[],"colour":1}`), http.StatusBadRequest)
	want(t, e.do("POST", "/api/v1/rules", e.admin, ``), http.StatusBadRequest)

	// The rule fills its table from the bus.
	e.publish(e.topics.In("CP7"), `[2,"h1","Heartbeat",{}]`)
	var rows struct {
		Items []RowView
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(rows.Items) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		e.do("GET", "/api/v1/tables/chargePointHeartbeat/rows", e.admin, nil).decode(t, &rows)
	}
	if len(rows.Items) != 1 || rows.Items[0].Key != "CP7" {
		t.Fatalf("table rows = %+v", rows)
	}
	want(t, e.do("GET", "/api/v1/tables/chargePointHeartbeat/rows/CP7", e.admin, nil), http.StatusOK)
	want(t, e.do("GET", "/api/v1/tables/chargePointHeartbeat/rows/CP8", e.admin, nil), http.StatusNotFound)
	var tables List[TableView]
	e.do("GET", "/api/v1/tables", e.admin, nil).decode(t, &tables)
	if len(tables.Items) != 1 || tables.Items[0].Rows != 1 {
		t.Errorf("tables = %+v", tables)
	}

	var l struct{ Items []json.RawMessage }
	e.do("GET", "/api/v1/rules", e.admin, nil).decode(t, &l)
	if len(l.Items) != 2 {
		t.Errorf("rules = %+v", l)
	}
	r = e.do("GET", "/api/v1/rules/heartbeats", e.admin, nil)
	r.decode(t, &v)
	if v.Stats == nil || v.Stats.Matched != 1 {
		t.Errorf("stats of a running rule = %s", r.body)
	}
	r = e.do("PATCH", "/api/v1/rules/heartbeats", e.admin, map[string]any{"enabled": false})
	want(t, r, http.StatusOK)
	r.decode(t, &v)
	if v.Enabled {
		t.Error("PATCH enabled=false left it enabled")
	}
	want(t, e.do("PATCH", "/api/v1/rules/heartbeats", e.admin, map[string]any{}), http.StatusBadRequest, "enabled")
	want(t, e.do("PUT", "/api/v1/rules/heartbeats", e.admin, `{"sql":"SELECT * FROM '+/out'","actions":[{"log":{}}]}`), http.StatusOK)
	want(t, e.do("PUT", "/api/v1/rules/heartbeats", e.admin, `{"name":"other","sql":"SELECT * FROM '+/out'","actions":[{"log":{}}]}`), http.StatusBadRequest, "name")
	want(t, e.do("PUT", "/api/v1/rules/fromconfig", e.admin, `{"sql":"SELECT * FROM '+/out'","actions":[{"log":{}}]}`), http.StatusForbidden)
	want(t, e.do("DELETE", "/api/v1/rules/fromconfig", e.admin, nil), http.StatusForbidden)
	want(t, e.do("DELETE", "/api/v1/rules/heartbeats", e.admin, nil), http.StatusNoContent)
	want(t, e.do("GET", "/api/v1/rules/heartbeats", e.admin, nil), http.StatusNotFound)
	want(t, e.do("PUT", "/api/v1/rules/nope", e.admin, `{"sql":"SELECT * FROM '+/out'","actions":[{"log":{}}]}`), http.StatusNotFound)

	bare := newEnv(t)
	want(t, bare.do("GET", "/api/v1/rules", bare.admin, nil), http.StatusNotImplemented)
}
