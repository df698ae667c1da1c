package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/memory"
	"github.com/ocppd/ocppd/metrics"
	"github.com/ocppd/ocppd/store"
	"github.com/ocppd/ocppd/store/sqlite"
)

// env is a Server on a real SQLite store in a temporary directory and the
// in-memory bus, behind an httptest server, with three tokens.
type env struct {
	t        *testing.T
	store    *sqlite.DB
	bus      *memory.Bus
	topics   bus.Topics
	srv      *Server
	http     *httptest.Server
	reg      *metrics.Registry
	admin    string // an active token
	readOnly string // an active read-only token
	revoked  string // a revoked token
}

func newEnv(t *testing.T, adjust ...func(*Options)) *env {
	t.Helper()
	ctx := context.Background()
	db := sqlite.New(sqlite.Options{Path: filepath.Join(t.TempDir(), "ocppd.db")})
	if err := db.Open(ctx); err != nil {
		t.Fatalf("open store: %v", err)
	}
	e := &env{t: t, store: db, bus: memory.New(), topics: bus.Topics{Prefix: "fleet/"}, reg: metrics.NewRegistry()}
	opts := Options{
		Store: db, Bus: e.bus, Topics: e.topics, Version: "test",
		Metrics: e.reg.Handler(), Registerer: e.reg.Registerer(),
	}
	for _, f := range adjust {
		f(&opts)
	}
	e.srv = New(opts)
	if err := e.srv.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	e.http = httptest.NewServer(e.srv.Handler())
	t.Cleanup(func() {
		e.http.Close()
		if err := e.srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := e.srv.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	e.admin = e.token("admin", false)
	e.readOnly = e.token("viewer", true)
	e.revoked = e.token("former", false)
	if _, err := db.RevokeToken(ctx, "former", time.Now()); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) token(name string, readOnly bool) string {
	e.t.Helper()
	secret, tok, err := NewToken(name, readOnly, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.CreateToken(context.Background(), tok); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// errBody decodes the JSON error body.
func (r response) err() errorDetail {
	var b errorBody
	_ = json.Unmarshal(r.body, &b)
	return b.Error
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request with token (none if "") and a body (a string sent
// as is, anything else as JSON).
func (e *env) do(method, path, token string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// want checks the status and, for errors, the code and field.
func want(t *testing.T, r response, status int, field ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if status >= 400 {
		d := r.err()
		if d.Code == "" || d.Message == "" {
			t.Errorf("error body %s lacks code or message", r.body)
		}
		if len(field) > 0 && d.Field != field[0] {
			t.Errorf("error field %q, want %q (body %s)", d.Field, field[0], r.body)
		}
	}
}

func (e *env) addCP(ids ...string) {
	e.t.Helper()
	for _, id := range ids {
		want(e.t, e.do("POST", "/api/v1/chargepoints", e.admin, map[string]any{"id": id}), http.StatusCreated)
	}
}

func TestEveryRouteNeedsAToken(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1")
	for _, rt := range e.srv.Routes() {
		method, path, _ := strings.Cut(rt, " ")
		path = strings.ReplaceAll(path, "{cp}", "CP1")
		for _, p := range []string{"{tx}", "{id}", "{token}", "{name}", "{table}", "{key}"} {
			path = strings.ReplaceAll(path, p, "x")
		}
		for _, tc := range []struct{ name, token string }{
			{"no token", ""}, {"unknown token", "ocppd_notatoken"}, {"revoked token", e.revoked},
		} {
			r := e.do(method, path, tc.token, nil)
			if r.status != http.StatusUnauthorized || r.err().Code != ocppd.EUNAUTHORIZED {
				t.Errorf("%s with %s: %d %s, want 401", rt, tc.name, r.status, r.body)
			}
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s with %s: no WWW-Authenticate: Bearer", rt, tc.name)
			}
		}
		if method != http.MethodGet {
			r := e.do(method, path, e.readOnly, nil)
			if r.status != http.StatusForbidden || r.err().Code != ocppd.EFORBIDDEN {
				t.Errorf("%s with a read-only token: %d %s, want 403", rt, r.status, r.body)
			}
		}
	}
	if r := e.do("GET", "/api/v1/chargepoints", e.revoked, nil); !strings.Contains(r.err().Message, "revoked") {
		t.Errorf("a revoked token's error %q does not say it was revoked", r.err().Message)
	}
	// Unknown API paths and /metrics need one too.
	want(t, e.do("GET", "/api/v1/nothing", "", nil), http.StatusUnauthorized)
	want(t, e.do("GET", "/metrics", "", nil), http.StatusUnauthorized)
	// The read-only token reads; the portal page is public.
	want(t, e.do("GET", "/api/v1/chargepoints/CP1", e.readOnly, nil), http.StatusOK)
	if r := e.do("GET", "/", "", nil); r.status != http.StatusOK || !strings.Contains(string(r.body), "ocppd token create") {
		t.Errorf("GET / = %d %s, want the placeholder portal", r.status, r.body)
	}
	// The access_token parameter is for the event stream only.
	want(t, e.do("GET", "/api/v1/chargepoints?access_token="+e.admin, "", nil), http.StatusUnauthorized)
}

func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/api/v1/chargepoints", e.admin, nil)
	e.do("GET", "/api/v1/chargepoints", "", nil)
	r := e.do("GET", "/metrics", e.admin, nil)
	want(t, r, http.StatusOK)
	for _, s := range []string{`ocppd_api_requests_total{route="GET /api/v1/chargepoints",status="200"} 1`, `ocppd_api_denied_total{status="401"} 1`, "go_goroutines"} {
		if !strings.Contains(string(r.body), s) {
			t.Errorf("/metrics lacks %q", s)
		}
	}
	pub := newEnv(t, func(o *Options) { o.MetricsPublic = true })
	want(t, pub.do("GET", "/metrics", "", nil), http.StatusOK)
}

func TestUnknownPathAndMethod(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/v1/nothing", e.admin, nil)
	want(t, r, http.StatusNotFound)
	if r.header.Get("Content-Type") != "application/json" {
		t.Errorf("404 Content-Type %q", r.header.Get("Content-Type"))
	}
	r = e.do("PUT", "/api/v1/chargepoints", e.admin, "{}")
	want(t, r, http.StatusMethodNotAllowed)
	if got := r.header.Get("Allow"); got != "GET, POST" {
		t.Errorf("Allow = %q, want GET, POST", got)
	}
}

func TestChargePoints(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	r := e.do("POST", "/api/v1/chargepoints", e.admin, map[string]any{"id": "CP1", "registration": "Pending"})
	want(t, r, http.StatusCreated)
	var cp ocppd.ChargePoint
	r.decode(t, &cp)
	if cp.ID != "CP1" || cp.Registration != ocppd.RegistrationPending || cp.RegisteredAt.IsZero() {
		t.Errorf("created %+v", cp)
	}
	if r.header.Get("Location") != "/api/v1/chargepoints/CP1" {
		t.Errorf("Location = %q", r.header.Get("Location"))
	}
	e.addCP("CP2", "CP3", "X1")

	// Bad input names the field; conflicts are 409.
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{}, "id"},
		{map[string]any{"id": "bad/id"}, "id"},
		{map[string]any{"id": strings.Repeat("x", 49)}, "id"},
		{map[string]any{"id": "CP9", "registration": "Maybe"}, "registration"},
		{map[string]any{"id": "CP9", "colour": "red"}, "colour"},
		{map[string]any{"id": 7}, "id"},
		{`{"id":`, ""},
		{`not json`, ""},
		{"", ""},
	} {
		r := e.do("POST", "/api/v1/chargepoints", e.admin, tc.body)
		want(t, r, http.StatusBadRequest, tc.field)
	}
	want(t, e.do("POST", "/api/v1/chargepoints", e.admin, map[string]any{"id": "CP1"}), http.StatusConflict)

	// List, filters, paging.
	var page List[ocppd.ChargePoint]
	r = e.do("GET", "/api/v1/chargepoints?prefix=CP&limit=2", e.admin, nil)
	want(t, r, http.StatusOK)
	r.decode(t, &page)
	if len(page.Items) != 2 || page.Items[0].ID != "CP1" || page.Items[1].ID != "CP2" || page.Next != "CP2" {
		t.Fatalf("first page = %+v", page)
	}
	page = List[ocppd.ChargePoint]{}
	e.do("GET", "/api/v1/chargepoints?prefix=CP&limit=2&after="+"CP2", e.admin, nil).decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].ID != "CP3" || page.Next != "" {
		t.Fatalf("second page = %+v", page)
	}
	if err := e.store.RecordConnected(ctx, store.Connection{ChargePointID: "CP3", SessionID: "s1", Protocol: "ocpp1.6", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	page = List[ocppd.ChargePoint]{}
	e.do("GET", "/api/v1/chargepoints?online=true", e.admin, nil).decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].ID != "CP3" || !page.Items[0].Online {
		t.Errorf("online = %+v", page)
	}
	want(t, e.do("GET", "/api/v1/chargepoints?online=maybe", e.admin, nil), http.StatusBadRequest, "online")
	want(t, e.do("GET", "/api/v1/chargepoints?limit=0", e.admin, nil), http.StatusBadRequest, "limit")
	want(t, e.do("GET", "/api/v1/chargepoints?limit=1001", e.admin, nil), http.StatusBadRequest, "limit")

	// Get, update, delete.
	want(t, e.do("GET", "/api/v1/chargepoints/NOPE", e.admin, nil), http.StatusNotFound)
	r = e.do("PATCH", "/api/v1/chargepoints/CP1", e.admin, map[string]any{"registration": "Rejected"})
	want(t, r, http.StatusOK)
	r.decode(t, &cp)
	if cp.Registration != ocppd.RegistrationRejected {
		t.Errorf("after PATCH: %+v", cp)
	}
	want(t, e.do("PATCH", "/api/v1/chargepoints/CP1", e.admin, map[string]any{"registration": "x"}), http.StatusBadRequest, "registration")
	want(t, e.do("PATCH", "/api/v1/chargepoints/NOPE", e.admin, map[string]any{"registration": "Accepted"}), http.StatusNotFound)
	want(t, e.do("DELETE", "/api/v1/chargepoints/X1", e.admin, nil), http.StatusNoContent)
	want(t, e.do("DELETE", "/api/v1/chargepoints/X1", e.admin, nil), http.StatusNotFound)
	want(t, e.do("GET", "/api/v1/chargepoints/X1", e.admin, nil), http.StatusNotFound)
}

func TestStatusAndConnectors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.addCP("CP1")
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, st := range []string{"Available", "Occupied"} {
		if err := e.store.AddStatus(ctx, ocppd.StatusEvent{ChargePointID: "CP1", EVSE: 1, Connector: 1, Status: st, Timestamp: at.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	var l List[ocppd.StatusEvent]
	e.do("GET", "/api/v1/chargepoints/CP1/status", e.admin, nil).decode(t, &l)
	if len(l.Items) != 2 || l.Items[0].Status != "Occupied" {
		t.Errorf("status history = %+v", l)
	}
	l = List[ocppd.StatusEvent]{}
	e.do("GET", "/api/v1/chargepoints/CP1/status?limit=1", e.admin, nil).decode(t, &l)
	if len(l.Items) != 1 {
		t.Errorf("limit=1 gave %d", len(l.Items))
	}
	l = List[ocppd.StatusEvent]{}
	e.do("GET", "/api/v1/chargepoints/CP1/connectors", e.admin, nil).decode(t, &l)
	if len(l.Items) != 1 || l.Items[0].Status != "Occupied" || l.Items[0].EVSE != 1 {
		t.Errorf("connectors = %+v", l)
	}
	want(t, e.do("GET", "/api/v1/chargepoints/NOPE/status", e.admin, nil), http.StatusNotFound)
	want(t, e.do("GET", "/api/v1/chargepoints/NOPE/connectors", e.admin, nil), http.StatusNotFound)
	want(t, e.do("GET", "/api/v1/chargepoints/CP1/status?limit=x", e.admin, nil), http.StatusBadRequest, "limit")
}

func TestShadow(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1")
	var doc struct {
		State struct {
			Reported, Desired, Delta map[string]any
		}
		Version int64
	}
	r := e.do("GET", "/api/v1/chargepoints/CP1/shadow", e.admin, nil)
	want(t, r, http.StatusOK)
	r.decode(t, &doc)
	if doc.Version != 0 || doc.State.Desired != nil {
		t.Errorf("empty shadow = %s", r.body)
	}
	r = e.do("PATCH", "/api/v1/chargepoints/CP1/shadow", e.admin, `{"state":{"desired":{"HeartbeatInterval":60}}}`)
	want(t, r, http.StatusOK)
	r.decode(t, &doc)
	if doc.Version != 1 || doc.State.Desired["HeartbeatInterval"] != float64(60) || doc.State.Delta["HeartbeatInterval"] != float64(60) {
		t.Errorf("after update: %s", r.body)
	}
	if r.header.Get("ETag") != `"1"` {
		t.Errorf("ETag = %q", r.header.Get("ETag"))
	}
	// A stale version conflicts; the right one applies.
	want(t, e.do("PATCH", "/api/v1/chargepoints/CP1/shadow", e.admin, `{"state":{"desired":{"a":1}},"version":0}`), http.StatusConflict, "version")
	want(t, e.do("PATCH", "/api/v1/chargepoints/CP1/shadow", e.admin, `{"state":{"desired":{"a":1}},"version":1}`), http.StatusOK)
	// Operators cannot write reported; bad documents name the field.
	want(t, e.do("PATCH", "/api/v1/chargepoints/CP1/shadow", e.admin, `{"state":{"reported":{"a":1}}}`), http.StatusBadRequest, "state.reported")
	want(t, e.do("PATCH", "/api/v1/chargepoints/CP1/shadow", e.admin, `{"state":{"desired":5}}`), http.StatusBadRequest)
	want(t, e.do("PATCH", "/api/v1/chargepoints/CP1/shadow", e.admin, `{"state":`), http.StatusBadRequest)
	want(t, e.do("PATCH", "/api/v1/chargepoints/CP1/shadow", e.admin, `{"nope":1}`), http.StatusBadRequest)
	want(t, e.do("PATCH", "/api/v1/chargepoints/NOPE/shadow", e.admin, `{"state":{"desired":{"a":1}}}`), http.StatusNotFound)
	want(t, e.do("GET", "/api/v1/chargepoints/NOPE/shadow", e.admin, nil), http.StatusNotFound)
	big := `{"state":{"desired":{"a":"` + strings.Repeat("x", 70<<10) + `"}}}`
	if r := e.do("PATCH", "/api/v1/chargepoints/CP1/shadow", e.admin, big); r.status != http.StatusBadRequest && r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized update: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/api/v1/chargepoints/CP1/shadow", e.admin, nil)
	r.decode(t, &doc)
	if doc.Version != 2 || doc.State.Desired["a"] != float64(1) {
		t.Errorf("final shadow %s", r.body)
	}
}

func TestSystem(t *testing.T) {
	obs, err := metrics.NewObserver(metrics.ObserverOptions{Bus: memory.New(), Registerer: metrics.NewRegistry().Registerer()})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *Options) { o.Sessions = func() int { return 4 }; o.Observer = obs })
	e.addCP("CP1", "CP2")
	var s System
	r := e.do("GET", "/api/v1/system", e.readOnly, nil)
	want(t, r, http.StatusOK)
	r.decode(t, &s)
	if s.Version != "test" || s.Stations.Total != 2 || s.Stations.Online != 0 || s.GatewaySessions == nil || *s.GatewaySessions != 4 || s.Messages == nil {
		t.Errorf("system = %s", r.body)
	}
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/v1/openapi.json", e.admin, nil)
	want(t, r, http.StatusOK)
	var doc map[string]any
	r.decode(t, &doc)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v", doc["openapi"])
	}
}
