package rules_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/memory"
	"github.com/ocppd/ocppd/rules"
	"github.com/ocppd/ocppd/store"
	"github.com/ocppd/ocppd/store/sqlite"
)

const seedLine = `SELECT topic(1) AS chargePointId, timestamp() AS lastTimestamp FROM '+/in' WHERE get(*, 2) = 'Heartbeat'`

func openStore(t testing.TB) *sqlite.DB {
	t.Helper()
	db := sqlite.New(sqlite.Options{Path: filepath.Join(t.TempDir(), "ocppd.db")})
	if err := db.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func startEngine(t testing.TB, opts rules.Options) *rules.Engine {
	t.Helper()
	e := rules.New(opts)
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// eventually polls cond until it holds, failing after a generous deadline.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func publish(t testing.TB, b bus.Bus, topic, payload string, props map[string]string) {
	t.Helper()
	if err := b.Publish(context.Background(), bus.Message{Topic: topic, Payload: []byte(payload), Props: props}); err != nil {
		t.Fatal(err)
	}
}

func mustRule(t testing.TB, js string) rules.Rule {
	t.Helper()
	r, err := rules.ParseRule([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSeedRuleTable(t *testing.T) {
	b := memory.New()
	st := openStore(t)
	now := time.UnixMilli(1_700_000_000_000).UTC()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	seed := mustRule(t, `{"name":"heartbeats","sql":"`+seedLine+`","actions":[{"table":{"name":"chargePointHeartbeat","key":"chargePointId"}}]}`)
	e := startEngine(t, rules.Options{Bus: b, Store: st, Static: []rules.Rule{seed}, Now: clock, Topics: bus.Topics{Prefix: "fleet1/"}})

	publish(t, b, "fleet1/CP1/in", `[2,"1","Heartbeat",{}]`, nil)
	publish(t, b, "fleet1/CP2/in", `[2,"2","StatusNotification",{}]`, nil) // not a heartbeat
	publish(t, b, "CP3/in", `[2,"3","Heartbeat",{}]`, nil)                 // outside the prefix
	row := func(cp string) map[string]any {
		r, err := st.GetTableRow(context.Background(), "chargePointHeartbeat", cp)
		if err != nil {
			return nil
		}
		var m map[string]any
		json.Unmarshal(r.Data, &m)
		return m
	}
	eventually(t, "CP1's row", func() bool { return row("CP1") != nil })
	if got := row("CP1"); got["chargePointId"] != "CP1" || got["lastTimestamp"] != float64(1_700_000_000_000) {
		t.Errorf("row = %v", got)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	publish(t, b, "fleet1/CP1/in", `[2,"4","Heartbeat",{}]`, nil)
	eventually(t, "lastTimestamp to advance", func() bool { return row("CP1")["lastTimestamp"] == float64(1_700_000_060_000) })
	rows, err := e.TableRows(context.Background(), "chargePointHeartbeat", store.TableListOptions{})
	if err != nil || len(rows) != 1 {
		t.Fatalf("TableRows = %v, %v; want CP1 only", rows, err)
	}
	st0 := e.Stats()
	if len(st0) != 1 || st0[0].Matched != 2 || st0[0].Actions[0].OK != 2 {
		t.Errorf("stats = %+v, want 2 matched, 2 ok", st0)
	}
}

func TestRepublishTemplateAndLoopGuard(t *testing.T) {
	b := memory.New()
	got := make(chan bus.Message, 10)
	if _, err := b.Subscribe(context.Background(), "hb/#", func(m bus.Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	// The rule reads '#' and republishes into it: it must not see its own output.
	r := mustRule(t, `{"name":"echo","sql":"SELECT topic(1) AS cp, get(*, 2) AS action FROM '#' WHERE get(*, 0) = 2",
		"actions":[{"republish":{"topic":"hb/${cp}/${lower(action)}"}}]}`)
	e := startEngine(t, rules.Options{Bus: b, Static: []rules.Rule{r}})
	publish(t, b, "CP1/in", `[2,"1","Heartbeat",{}]`, nil)
	select {
	case m := <-got:
		if m.Topic != "hb/CP1/heartbeat" || string(m.Payload) != `{"cp":"CP1","action":"Heartbeat"}` || m.Prop(rules.PropRule) != "echo" {
			t.Errorf("republished %s %s %v", m.Topic, m.Payload, m.Props)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing republished")
	}
	eventually(t, "ok count", func() bool { return e.Stats()[0].Actions[0].OK == 1 })
	if s := e.Stats()[0]; s.Matched != 1 {
		t.Errorf("matched %d, want 1 (its own output is not evaluated)", s.Matched)
	}
}

func TestWebhookRetriesThenSucceeds(t *testing.T) {
	var calls atomic.Int32
	bodies := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Cp") != "CP1" || r.Header.Get("X-Ocppd-Rule") != "hook" {
			t.Errorf("headers %v", r.Header)
		}
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		bodies <- string(body)
	}))
	defer srv.Close()
	b := memory.New()
	r := mustRule(t, `{"name":"hook","sql":"SELECT topic(1) AS cp FROM '+/in'",
		"actions":[{"webhook":{"url":"`+srv.URL+`","backoff":"1ms","headers":{"X-Cp":"${cp}"}}}]}`)
	e := startEngine(t, rules.Options{Bus: b, Static: []rules.Rule{r}})
	publish(t, b, "CP1/in", `[2,"1","Heartbeat",{}]`, nil)
	select {
	case body := <-bodies:
		if body != `{"cp":"CP1"}` {
			t.Errorf("body %s", body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("webhook never succeeded")
	}
	eventually(t, "ok count", func() bool { return e.Stats()[0].Actions[0].OK == 1 })
	if s := e.Stats()[0].Actions[0]; s.Retries != 2 || s.Failed != 0 || calls.Load() != 3 {
		t.Errorf("stats %+v, calls %d; want 2 retries, 3 calls", s, calls.Load())
	}
}

func TestWebhookGivesUpAndRunsErrorAction(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	b := memory.New()
	errs := make(chan bus.Message, 10)
	if _, err := b.Subscribe(context.Background(), "errors/#", func(m bus.Message) { errs <- m }); err != nil {
		t.Fatal(err)
	}
	r := mustRule(t, `{"name":"hook","sql":"SELECT topic(1) AS cp FROM '+/in'",
		"actions":[{"webhook":{"url":"`+srv.URL+`","backoff":"1ms","retries":2}}],
		"errorAction":{"republish":{"topic":"errors/${ruleName}/${payload.cp}"}}}`)
	e := startEngine(t, rules.Options{Bus: b, Static: []rules.Rule{r}})
	publish(t, b, "CP7/in", `[2,"1","Heartbeat",{}]`, nil)
	select {
	case m := <-errs:
		var rep map[string]any
		if err := json.Unmarshal(m.Payload, &rep); err != nil {
			t.Fatal(err)
		}
		msg, _ := rep["errorMessage"].(string)
		payload, _ := rep["payload"].(map[string]any)
		if m.Topic != "errors/hook/CP7" || rep["failedAction"] != "webhook" || rep["topic"] != "CP7/in" ||
			!strings.Contains(msg, "503") || payload["cp"] != "CP7" {
			t.Errorf("error report %s on %s", m.Payload, m.Topic)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no error report")
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls, want 3 (1 + 2 retries)", calls.Load())
	}
	eventually(t, "error action ok", func() bool { return e.Stats()[0].ErrorAction.OK == 1 })
	if s := e.Stats()[0].Actions[0]; s.Failed != 1 || s.OK != 0 {
		t.Errorf("webhook stats %+v, want 1 failed", s)
	}
}

func TestWebhookClientErrorIsNotRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer srv.Close()
	b := memory.New()
	r := mustRule(t, `{"name":"hook","sql":"SELECT * FROM '+/in'","actions":[{"webhook":{"url":"`+srv.URL+`","backoff":"1ms"}}]}`)
	e := startEngine(t, rules.Options{Bus: b, Static: []rules.Rule{r}})
	publish(t, b, "CP1/in", `[2,"1","Heartbeat",{}]`, nil)
	eventually(t, "failure", func() bool { return e.Stats()[0].Actions[0].Failed == 1 })
	if calls.Load() != 1 {
		t.Errorf("%d calls, want 1", calls.Load())
	}
}

// A slow webhook fills its own bounded queue; the overflow is counted, the
// publisher is never held up, and another action of the same rule keeps
// working.
func TestSlowWebhookDropsAndDelaysNothing(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer srv.Close()
	defer close(release)
	b := memory.New()
	st := openStore(t)
	r := mustRule(t, `{"name":"both","sql":"SELECT topic(1) AS cp, get(*, 1) AS id FROM '+/in'","actions":[
		{"webhook":{"url":"`+srv.URL+`","timeout":"1m"}},
		{"table":{"name":"last","key":"cp"}}]}`)
	e := startEngine(t, rules.Options{Bus: b, Store: st, Static: []rules.Rule{r}, QueueSize: 4, WebhookWorkers: 1, DrainTimeout: time.Millisecond})
	publish(t, b, "CP1/in", `[2,"first","Heartbeat",{}]`, nil)
	<-arrived // the one worker is now stuck in the request
	const n = 50
	for range n {
		publish(t, b, "CP1/in", `[2,"x","Heartbeat",{}]`, nil) // returns at once
	}
	eventually(t, "table rows", func() bool {
		s := e.Stats()[0].Actions[1]
		return s.OK+s.Dropped == n+1
	})
	s := e.Stats()[0]
	wh := s.Actions[0]
	// 1 in flight, 4 queued, the rest dropped.
	if s.Matched != n+1 || wh.Dropped != n-4 || wh.Queued != 4 {
		t.Errorf("stats %+v, webhook %+v; want %d matched, %d dropped, 4 queued", s, wh, n+1, n-4)
	}
	if _, err := st.GetTableRow(context.Background(), "last", "CP1"); err != nil {
		t.Errorf("table action held up by the webhook: %v", err)
	}
}

func TestTableKeyMissingFails(t *testing.T) {
	b := memory.New()
	st := openStore(t)
	r := mustRule(t, `{"name":"t","sql":"SELECT get(*, 1) AS id FROM '+/in'","actions":[{"table":{"name":"x","key":"cp"}}]}`)
	e := startEngine(t, rules.Options{Bus: b, Store: st, Static: []rules.Rule{r}})
	publish(t, b, "CP1/in", `[2,"1","Heartbeat",{}]`, nil)
	eventually(t, "failure", func() bool { return e.Stats()[0].Actions[0].Failed == 1 })
}

func TestCRUDTakesEffectWithoutRestart(t *testing.T) {
	ctx := context.Background()
	b := memory.New()
	st := openStore(t)
	static := mustRule(t, `{"name":"cfg","sql":"SELECT 1 AS x FROM 'nothing'","actions":[{"log":{}}]}`)
	e := startEngine(t, rules.Options{Bus: b, Store: st, Static: []rules.Rule{static}, PollInterval: -1})
	count := func(cp string) int {
		rows, _ := st.ListTableRows(ctx, "hb", store.TableListOptions{Prefix: cp})
		return len(rows)
	}
	r := mustRule(t, `{"name":"seed","sql":"`+seedLine+`","actions":[{"table":{"name":"hb","key":"chargePointId"}}]}`)
	created, err := e.Create(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if created.Source != rules.SourceAPI || !created.Enabled || created.CreatedAt.IsZero() {
		t.Errorf("created %+v", created)
	}
	if _, err := e.Create(ctx, r); ocppd.ErrorCode(err) != ocppd.ECONFLICT {
		t.Errorf("second create: %v, want conflict", err)
	}
	if _, err := e.Create(ctx, static); ocppd.ErrorCode(err) != ocppd.ECONFLICT {
		t.Errorf("create over a config rule: %v, want conflict", err)
	}
	publish(t, b, "A/in", `[2,"1","Heartbeat",{}]`, nil)
	eventually(t, "row A", func() bool { return count("A") == 1 })

	if _, err := e.SetEnabled(ctx, "seed", false); err != nil {
		t.Fatal(err)
	}
	publish(t, b, "B/in", `[2,"1","Heartbeat",{}]`, nil)
	if _, err := e.SetEnabled(ctx, "seed", true); err != nil {
		t.Fatal(err)
	}
	publish(t, b, "C/in", `[2,"1","Heartbeat",{}]`, nil)
	eventually(t, "row C", func() bool { return count("C") == 1 })
	if count("B") != 0 {
		t.Error("a disabled rule wrote a row")
	}

	list, err := e.List(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "cfg" || list[0].Source != rules.SourceConfig || list[1].Name != "seed" {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if err := e.Delete(ctx, "cfg"); ocppd.ErrorCode(err) != ocppd.EFORBIDDEN {
		t.Errorf("deleting a config rule: %v, want forbidden", err)
	}
	if _, err := e.SetEnabled(ctx, "cfg", false); ocppd.ErrorCode(err) != ocppd.EFORBIDDEN {
		t.Errorf("disabling a config rule: %v, want forbidden", err)
	}
	r.SQL = strings.Replace(seedLine, "'Heartbeat'", "'Authorize'", 1)
	if _, err := e.Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	publish(t, b, "D/in", `[2,"1","Heartbeat",{}]`, nil)
	publish(t, b, "E/in", `[2,"1","Authorize",{}]`, nil)
	eventually(t, "row E", func() bool { return count("E") == 1 })
	if count("D") != 0 {
		t.Error("the old statement still runs after an update")
	}
	if err := e.Delete(ctx, "seed"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Get(ctx, "seed"); ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
		t.Errorf("Get after delete: %v", err)
	}
	if st := e.Stats(); len(st) != 1 || st[0].Name != "cfg" {
		t.Errorf("stats after delete: %+v, want cfg only", st)
	}
	if _, err := e.Create(ctx, rules.Rule{Name: "bad", SQL: "SELECT * FROM", Actions: []rules.Action{{Log: &rules.LogAction{}}}}); ocppd.ErrorCode(err) != ocppd.EINVALID {
		t.Errorf("invalid rule: %v", err)
	}
}

// Another process's changes reach this engine through the store.
func TestPollPicksUpOtherProcessChanges(t *testing.T) {
	ctx := context.Background()
	b := memory.New()
	st := openStore(t)
	e := startEngine(t, rules.Options{Bus: b, Store: st, PollInterval: 10 * time.Millisecond})
	other := rules.New(rules.Options{Bus: memory.New(), Store: st, PollInterval: -1})
	if err := other.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Create(ctx, mustRule(t, `{"name":"seed","sql":"`+seedLine+`","actions":[{"table":{"name":"hb","key":"chargePointId"}}]}`)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rule to run here", func() bool { return len(e.Stats()) == 1 })
	publish(t, b, "A/in", `[2,"1","Heartbeat",{}]`, nil)
	eventually(t, "row A", func() bool { _, err := st.GetTableRow(ctx, "hb", "A"); return err == nil })
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct{ js, want string }{
		{`{"name":"a b","sql":"SELECT * FROM 'x'","actions":[{"log":{}}]}`, "rule name"},
		{`{"name":"a","sql":"SELECT * FROM","actions":[{"log":{}}]}`, "expected a topic filter"},
		{`{"name":"a","sql":"SELECT * FROM 'x'","actions":[]}`, "at least one action"},
		{`{"name":"a","sql":"SELECT * FROM 'x'","actions":[{}]}`, "exactly one"},
		{`{"name":"a","sql":"SELECT * FROM 'x'","actions":[{"log":{},"table":{"name":"t","key":"k"}}]}`, "exactly one"},
		{`{"name":"a","sql":"SELECT * FROM 'x'","actions":[{"table":{"name":"t"}}]}`, "key"},
		{`{"name":"a","sql":"SELECT * FROM 'x'","actions":[{"republish":{"topic":"a/${"}}]}`, "unterminated"},
		{`{"name":"a","sql":"SELECT * FROM 'x'","actions":[{"republish":{"topic":"a/${x +}"}}]}`, "1:8"},
		{`{"name":"a","sql":"SELECT * FROM 'x'","actions":[{"republish":{"topic":"a/+"}}]}`, "wildcards"},
		{`{"name":"a","sql":"SELECT * FROM 'x'","actions":[{"webhook":{"url":"ftp://x"}}]}`, "http"},
		{`{"name":"a","sql":"SELECT * FROM 'x'","actions":[{"webhook":{"url":"http://x","timeout":"soon"}}]}`, "duration"},
		{`{"name":"a","sql":"SELECT * FROM 'x'","actions":[{"log":{"level":"loud"}}]}`, "level"},
		{`{"name":"a","sql":"SELECT * FROM 'x'","actions":[{"log":{}}],"typo":1}`, "unknown field"},
	} {
		_, err := rules.ParseRule([]byte(tc.js))
		if err == nil || !strings.Contains(err.Error(), tc.want) || ocppd.ErrorCode(err) != ocppd.EINVALID {
			t.Errorf("ParseRule(%s) = %v, want EINVALID containing %q", tc.js, err, tc.want)
		}
	}
	r := mustRule(t, `{"name":"a","sql":"SELECT * FROM 'x'","actions":[{"webhook":{"url":"http://x","timeout":2.5,"backoff":"100ms"}}]}`)
	if !r.Enabled || time.Duration(r.Actions[0].Webhook.Timeout) != 2500*time.Millisecond {
		t.Errorf("parsed %+v", r)
	}
	if _, err := rules.ParseRules([]byte(`[{"name":"a","sql":"SELECT * FROM 'x'","actions":[{"log":{}}]},{"name":"a","sql":"SELECT * FROM 'x'","actions":[{"log":{}}]}]`)); err == nil {
		t.Error("duplicate names accepted")
	}
}

func TestTemplate(t *testing.T) {
	in := rules.Input{Topic: "CP1/in", Payload: []byte(`{"cp":"CP1","n":3,"f":1.5,"o":{"a":[1]},"b":true}`), ClientID: "gw"}
	for tmpl, want := range map[string]string{
		"plain":                          "plain",
		"${cp}/x":                        "CP1/x",
		"${topic(1)}-${topic(2)}":        "CP1-in",
		"${n + 1}/${f}/${b}/${o}":        `4/1.5/true/{"a":[1]}`,
		"${missing}|${clientid()}":       "|gw",
		"${concat('a}', '''')}":          "a}'",
		"${upper(cp)}${lower('X')}${cp}": "CP1xCP1",
	} {
		tp, err := rules.ParseTemplate(tmpl)
		if err != nil {
			t.Errorf("ParseTemplate(%q): %v", tmpl, err)
			continue
		}
		if got := tp.Render(in); got != want {
			t.Errorf("Render(%q) = %q, want %q", tmpl, got, want)
		}
	}
	for _, bad := range []string{"${", "${}", "a${b c}", "${'x}"} {
		if _, err := rules.ParseTemplate(bad); err == nil {
			t.Errorf("ParseTemplate(%q) accepted", bad)
		}
	}
}

// Without a bus the engine manages definitions only (an API-only process).
func TestDefinitionsOnlyWithoutBus(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	e := startEngine(t, rules.Options{Store: st})
	if _, err := e.Create(ctx, mustRule(t, `{"name":"seed","sql":"`+seedLine+`","actions":[{"log":{}}]}`)); err != nil {
		t.Fatal(err)
	}
	if list, err := e.List(ctx); err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	if len(e.Stats()) != 0 {
		t.Errorf("a rule runs without a bus: %+v", e.Stats())
	}
}
