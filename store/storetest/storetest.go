// Package storetest is the conformance suite that every implementation of
// store.Store passes: store/sqlite and store/postgres run it from their own
// tests with a function that opens a fresh, empty store.
//
// The suite pins down what the doc comments of package store leave to the
// implementation, so that both adapters behave the same:
//
//   - ids are ordered byte-wise (Go's string order, PostgreSQL's "C"
//     collation), and ListOptions.Prefix matches literally (no LIKE or GLOB
//     wildcards);
//   - times are returned in UTC with at least millisecond precision, and a
//     zero time.Time means "never";
//   - LastSeen changes only through MarkSeen;
//   - SessionID keeps the last session after a disconnect;
//   - StatusHistory is ordered by the station's Timestamp, newest first,
//     ties broken by arrival (the later one first); an event replaces the
//     current status of its connector unless its Timestamp is older than the
//     stored one;
//   - shadow documents compare as JSON values (a store may re-encode them,
//     as PostgreSQL's jsonb does).
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// Run runs the conformance suite, one subtest per behaviour. open must
// return a fresh, empty store for each call; it should register its own
// cleanup (t.Cleanup) to close and remove it. One subtest closes the store
// itself before that cleanup runs: Close must be idempotent.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"AddAndGet", testAddAndGet},
		{"AddManyInOneCall", testAddMany},
		{"AddEmpty", testAddEmpty},
		{"AddDuplicateInBatch", testAddDuplicateInBatch},
		{"AddDuplicateExisting", testAddDuplicateExisting},
		{"GetUnknown", testGetUnknown},
		{"TimesAreUTC", testTimesAreUTC},
		{"ListOrderedByID", testListOrdered},
		{"ListPrefix", testListPrefix},
		{"ListOnlineFilter", testListOnline},
		{"ListKeysetPaging", testListPaging},
		{"Count", testCount},
		{"Delete", testDelete},
		{"DeleteRemovesShadowAndStatus", testDeleteCascade},
		{"SetRegistration", testSetRegistration},
		{"RecordConnected", testRecordConnected},
		{"RecordDisconnected", testRecordDisconnected},
		{"DisconnectOfOldSessionAfterReconnect", testDisconnectOldSession},
		{"MarkGatewayOffline", testMarkGatewayOffline},
		{"MarkSeen", testMarkSeen},
		{"MarkSeenConcurrent", testMarkSeenConcurrent},
		{"MarkSeenConcurrentSameStation", testMarkSeenConcurrentSame},
		{"ShadowEmpty", testShadowEmpty},
		{"ShadowPutGet", testShadowPutGet},
		{"ShadowConflict", testShadowConflict},
		{"ShadowUnknownStation", testShadowUnknown},
		{"ShadowConcurrentReadModifyWrite", testShadowConcurrent},
		{"StatusCurrentAndHistory", testStatus},
		{"StatusOlderDoesNotOverwrite", testStatusOlder},
		{"StatusHistoryLimit", testStatusHistoryLimit},
		{"StatusPerStation", testStatusPerStation},
		{"Tokens", testTokens},
		{"TransactionTimeAndOffset", testTransactionTimeAndOffset},
		{"Commands", testCommands}, {"CommandsExpireConcurrent", testCommandsExpireConcurrent},
		{"Transactions", testTransactions}, {"MeterSamples", testMeterSamples}, {"IDTokens", testIDTokens}, {"StationData", testStationData},
		{"MeterSamplesIdempotent", testMeterSamplesIdempotent},   // metersamples.go
		{"NotificationsIdempotent", testNotificationsIdempotent}, // redelivery.go
		{"AuthCaches", testAuthCaches},                           // authcache.go
		{"Reservations", testReservations},                       // reservations.go
		{"ChargingProfiles", testChargingProfiles},               // chargingprofiles.go
		{"CloseIdempotent", testCloseIdempotent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
	runRules(t, open)    // store.Rules (rules.go)
	runSecurity(t, open) // store.Security (credentials.go)
	runFirmware(t, open) // store.Firmware (firmware.go)
}

// base is a fixed, millisecond-precise UTC instant the tests count from.
var base = time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

// at returns base plus d seconds.
func at(d int) time.Time { return base.Add(time.Duration(d) * time.Second) }

func newCP(id string) ocppd.ChargePoint {
	return ocppd.ChargePoint{
		ID:           id,
		Registration: ocppd.RegistrationAccepted,
		RegisteredAt: base,
	}
}

func add(t *testing.T, s store.Store, ids ...string) {
	t.Helper()
	cps := make([]ocppd.ChargePoint, len(ids))
	for i, id := range ids {
		cps[i] = newCP(id)
	}
	if err := s.AddChargePoints(context.Background(), cps); err != nil {
		t.Fatalf("AddChargePoints(%v): %v", ids, err)
	}
}

func get(t *testing.T, s store.Store, id string) ocppd.ChargePoint {
	t.Helper()
	cp, err := s.GetChargePoint(context.Background(), id)
	if err != nil {
		t.Fatalf("GetChargePoint(%q): %v", id, err)
	}
	return cp
}

func connect(t *testing.T, s store.Store, id, session, gateway string, when time.Time) {
	t.Helper()
	err := s.RecordConnected(context.Background(), store.Connection{
		ChargePointID: id,
		SessionID:     session,
		GatewayID:     gateway,
		Protocol:      "ocpp2.0.1",
		RemoteAddr:    "192.0.2.7:51234",
		At:            when,
	})
	if err != nil {
		t.Fatalf("RecordConnected(%q, %q): %v", id, session, err)
	}
}

func ids(cps []ocppd.ChargePoint) []string {
	out := make([]string, len(cps))
	for i, cp := range cps {
		out[i] = cp.ID
	}
	return out
}

func list(t *testing.T, s store.Store, opts store.ListOptions) []string {
	t.Helper()
	cps, err := s.ListChargePoints(context.Background(), opts)
	if err != nil {
		t.Fatalf("ListChargePoints(%+v): %v", opts, err)
	}
	return ids(cps)
}

// wantCode fails the test unless err carries the domain code want.
func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := ocppd.ErrorCode(err); got != want {
		t.Fatalf("error code = %q (err %v), want %q", got, err, want)
	}
}

// sameTime reports whether a and b are the same instant at millisecond
// precision.
func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond))
}

// checkTime fails unless got is want (at ms precision) and, when not zero,
// in UTC.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s = %v, want zero", what, got)
		}
		return
	}
	if !sameTime(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s = %v is not in UTC", what, got)
	}
}

// checkCP compares two charge points field by field, times at ms precision.
func checkCP(t *testing.T, got, want ocppd.ChargePoint) {
	t.Helper()
	checkTime(t, got.ID+" RegisteredAt", got.RegisteredAt, want.RegisteredAt)
	checkTime(t, got.ID+" ConnectedAt", got.ConnectedAt, want.ConnectedAt)
	checkTime(t, got.ID+" LastSeen", got.LastSeen, want.LastSeen)
	got.RegisteredAt, want.RegisteredAt = time.Time{}, time.Time{}
	got.ConnectedAt, want.ConnectedAt = time.Time{}, time.Time{}
	got.LastSeen, want.LastSeen = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("charge point = %+v, want %+v", got, want)
	}
}

func testAddAndGet(t *testing.T, s store.Store) {
	ctx := context.Background()
	want := ocppd.ChargePoint{ID: "CP1", Registration: ocppd.RegistrationPending, RegisteredAt: base}
	if err := s.AddChargePoints(ctx, []ocppd.ChargePoint{want}); err != nil {
		t.Fatal(err)
	}
	checkCP(t, get(t, s, "CP1"), want)
}

func testAddMany(t *testing.T, s store.Store) {
	ctx := context.Background()
	var cps []ocppd.ChargePoint
	for i := range 250 {
		cp := newCP(fmt.Sprintf("CP%04d", i))
		cp.RegisteredAt = at(i)
		if i%3 == 0 {
			cp.Registration = ocppd.RegistrationRejected
		}
		cps = append(cps, cp)
	}
	if err := s.AddChargePoints(ctx, cps); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListChargePoints(ctx, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(cps) {
		t.Fatalf("listed %d stations, want %d", len(got), len(cps))
	}
	for i := range cps {
		checkCP(t, got[i], cps[i])
	}
}

func testAddEmpty(t *testing.T, s store.Store) {
	if err := s.AddChargePoints(context.Background(), nil); err != nil {
		t.Fatalf("AddChargePoints(nil) = %v, want nil", err)
	}
	total, _, err := s.CountChargePoints(context.Background())
	if err != nil || total != 0 {
		t.Fatalf("Count = %d, %v; want 0, nil", total, err)
	}
}

func testAddDuplicateInBatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	err := s.AddChargePoints(ctx, []ocppd.ChargePoint{newCP("A1"), newCP("DUP7"), newCP("B2"), newCP("DUP7")})
	wantCode(t, err, ocppd.ECONFLICT)
	if msg := ocppd.ErrorMessage(err); !strings.Contains(msg, "DUP7") {
		t.Errorf("conflict message %q does not name DUP7", msg)
	}
	total, _, err := s.CountChargePoints(ctx)
	if err != nil || total != 0 {
		t.Fatalf("after failed add: Count = %d, %v; want 0 (nothing written)", total, err)
	}
}

func testAddDuplicateExisting(t *testing.T, s store.Store) {
	ctx := context.Background()
	existing := newCP("OLD9")
	existing.Registration = ocppd.RegistrationPending
	if err := s.AddChargePoints(ctx, []ocppd.ChargePoint{existing}); err != nil {
		t.Fatal(err)
	}
	dup := newCP("OLD9") // Accepted: must not overwrite the Pending one
	err := s.AddChargePoints(ctx, []ocppd.ChargePoint{newCP("NEW1"), dup, newCP("NEW2")})
	wantCode(t, err, ocppd.ECONFLICT)
	if msg := ocppd.ErrorMessage(err); !strings.Contains(msg, "OLD9") {
		t.Errorf("conflict message %q does not name OLD9", msg)
	}
	if got := list(t, s, store.ListOptions{}); !slices.Equal(got, []string{"OLD9"}) {
		t.Errorf("after failed add: stations %v, want [OLD9] (nothing written)", got)
	}
	checkCP(t, get(t, s, "OLD9"), existing)
}

func testGetUnknown(t *testing.T, s store.Store) {
	_, err := s.GetChargePoint(context.Background(), "NOPE")
	wantCode(t, err, ocppd.ENOTFOUND)
}

func testTimesAreUTC(t *testing.T, s store.Store) {
	ctx := context.Background()
	zone := time.FixedZone("UTC+2", 2*60*60)
	cp := newCP("TZ1")
	cp.RegisteredAt = base.In(zone)
	if err := s.AddChargePoints(ctx, []ocppd.ChargePoint{cp}); err != nil {
		t.Fatal(err)
	}
	connect(t, s, "TZ1", "s1", "gw1", at(10).In(zone))
	if err := s.MarkSeen(ctx, "TZ1", at(20).In(zone)); err != nil {
		t.Fatal(err)
	}
	got := get(t, s, "TZ1")
	checkTime(t, "RegisteredAt", got.RegisteredAt, base)
	checkTime(t, "ConnectedAt", got.ConnectedAt, at(10))
	checkTime(t, "LastSeen", got.LastSeen, at(20))
}

func testListOrdered(t *testing.T, s store.Store) {
	// Byte order: upper case before lower case, '-' (0x2d) before digits,
	// "CP10" before "CP2".
	in := []string{"cp3", "CP2", "CP10", "CP-1", "B", "CP1", "a"}
	add(t, s, in...)
	want := slices.Clone(in)
	slices.Sort(want)
	if got := list(t, s, store.ListOptions{}); !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
}

func testListPrefix(t *testing.T, s store.Store) {
	add(t, s, "CP_1", "CPX1", "CP%1", "CPa1", "CP*1", "CP?1", "CP[1", "cp_1", "XCP_1", "CP")
	cases := []struct {
		prefix string
		want   []string
	}{
		{"CP_", []string{"CP_1"}},
		{"CP%", []string{"CP%1"}},
		{"CP*", []string{"CP*1"}},
		{"CP?", []string{"CP?1"}},
		{"CP[", []string{"CP[1"}},
		{"CPX", []string{"CPX1"}},
		{"cp", []string{"cp_1"}},
		{"CP", []string{"CP", "CP%1", "CP*1", "CP?1", "CPX1", "CP[1", "CP_1", "CPa1"}},
		{"NONE", nil},
	}
	for _, c := range cases {
		got := list(t, s, store.ListOptions{Prefix: c.prefix})
		if !slices.Equal(got, c.want) {
			t.Errorf("List(Prefix %q) = %v, want %v", c.prefix, got, c.want)
		}
	}
}

func testListOnline(t *testing.T, s store.Store) {
	add(t, s, "A", "B", "C", "D", "E")
	connect(t, s, "B", "s1", "gw1", at(1))
	connect(t, s, "D", "s2", "gw1", at(1))
	connect(t, s, "E", "s3", "gw2", at(1))
	if err := s.RecordDisconnected(context.Background(), "E", "s3", at(2)); err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	if got := list(t, s, store.ListOptions{Online: &yes}); !slices.Equal(got, []string{"B", "D"}) {
		t.Errorf("List(Online) = %v, want [B D]", got)
	}
	if got := list(t, s, store.ListOptions{Online: &no}); !slices.Equal(got, []string{"A", "C", "E"}) {
		t.Errorf("List(Offline) = %v, want [A C E]", got)
	}
	// Filters combine with each other and with paging.
	if got := list(t, s, store.ListOptions{Online: &no, After: "A", Limit: 1}); !slices.Equal(got, []string{"C"}) {
		t.Errorf("List(Offline, After A, Limit 1) = %v, want [C]", got)
	}
	add(t, s, "DX")
	connect(t, s, "DX", "s4", "gw1", at(3))
	if got := list(t, s, store.ListOptions{Online: &yes, Prefix: "D"}); !slices.Equal(got, []string{"D", "DX"}) {
		t.Errorf("List(Online, Prefix D) = %v, want [D DX]", got)
	}
}

func testListPaging(t *testing.T, s store.Store) {
	var all []string
	for i := range 23 {
		all = append(all, fmt.Sprintf("P%02d", i))
	}
	add(t, s, all...)
	if got := list(t, s, store.ListOptions{Limit: 5}); !slices.Equal(got, all[:5]) {
		t.Errorf("List(Limit 5) = %v, want %v", got, all[:5])
	}
	// After need not name an existing id.
	if got := list(t, s, store.ListOptions{After: "P10x", Limit: 2}); !slices.Equal(got, []string{"P11", "P12"}) {
		t.Errorf("List(After P10x, Limit 2) = %v, want [P11 P12]", got)
	}
	if got := list(t, s, store.ListOptions{After: "P22"}); len(got) != 0 {
		t.Errorf("List(After last) = %v, want none", got)
	}
	var walked []string
	after := ""
	for range 10 {
		page := list(t, s, store.ListOptions{After: after, Limit: 7})
		walked = append(walked, page...)
		if len(page) < 7 {
			break
		}
		after = page[len(page)-1]
	}
	if !slices.Equal(walked, all) {
		t.Errorf("paging in 7s walked %v, want %v", walked, all)
	}
}

func testCount(t *testing.T, s store.Store) {
	ctx := context.Background()
	total, online, err := s.CountChargePoints(ctx)
	if err != nil || total != 0 || online != 0 {
		t.Fatalf("empty Count = %d, %d, %v; want 0, 0, nil", total, online, err)
	}
	add(t, s, "A", "B", "C", "D")
	connect(t, s, "A", "s1", "gw1", at(1))
	connect(t, s, "C", "s2", "gw1", at(1))
	total, online, err = s.CountChargePoints(ctx)
	if err != nil || total != 4 || online != 2 {
		t.Fatalf("Count = %d, %d, %v; want 4, 2, nil", total, online, err)
	}
}

func testDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "A", "B")
	wantCode(t, s.DeleteChargePoint(ctx, "NOPE"), ocppd.ENOTFOUND)
	if err := s.DeleteChargePoint(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetChargePoint(ctx, "A")
	wantCode(t, err, ocppd.ENOTFOUND)
	wantCode(t, s.DeleteChargePoint(ctx, "A"), ocppd.ENOTFOUND)
	if got := list(t, s, store.ListOptions{}); !slices.Equal(got, []string{"B"}) {
		t.Errorf("after delete: %v, want [B]", got)
	}
}

func testDeleteCascade(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "A", "B")
	for _, id := range []string{"A", "B"} {
		if err := s.PutShadow(ctx, id, json.RawMessage(`{"n":1}`), 0, at(1)); err != nil {
			t.Fatal(err)
		}
		if err := s.AddStatus(ctx, ocppd.StatusEvent{ChargePointID: id, EVSE: 1, Connector: 1, Status: "Available", Timestamp: at(1), ReceivedAt: at(1)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteChargePoint(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	// A station registered again under the same id starts clean.
	add(t, s, "A")
	rec, err := s.GetShadow(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Version != 0 || rec.Document != nil {
		t.Errorf("shadow after delete and re-add = version %d, %s; want 0, nil", rec.Version, rec.Document)
	}
	cur, err := s.CurrentStatus(ctx, "A")
	if err != nil || len(cur) != 0 {
		t.Errorf("CurrentStatus after delete = %v, %v; want none", cur, err)
	}
	hist, err := s.StatusHistory(ctx, "A", 10)
	if err != nil || len(hist) != 0 {
		t.Errorf("StatusHistory after delete = %v, %v; want none", hist, err)
	}
	// B is untouched.
	if rec, err := s.GetShadow(ctx, "B"); err != nil || rec.Version != 1 {
		t.Errorf("shadow of B = version %d, %v; want 1", rec.Version, err)
	}
	if hist, err := s.StatusHistory(ctx, "B", 10); err != nil || len(hist) != 1 {
		t.Errorf("history of B = %v, %v; want 1 event", hist, err)
	}
}

func testSetRegistration(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "A")
	wantCode(t, s.SetRegistration(ctx, "NOPE", ocppd.RegistrationAccepted), ocppd.ENOTFOUND)
	for _, st := range []ocppd.RegistrationStatus{ocppd.RegistrationRejected, ocppd.RegistrationPending, ocppd.RegistrationAccepted} {
		if err := s.SetRegistration(ctx, "A", st); err != nil {
			t.Fatal(err)
		}
		if got := get(t, s, "A").Registration; got != st {
			t.Errorf("Registration = %q, want %q", got, st)
		}
	}
}

func testRecordConnected(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "A", "B")
	err := s.RecordConnected(ctx, store.Connection{ChargePointID: "NOPE", SessionID: "s", GatewayID: "gw", At: at(1)})
	wantCode(t, err, ocppd.ENOTFOUND)

	c := store.Connection{
		ChargePointID: "A",
		SessionID:     "sess-1",
		GatewayID:     "gw-east",
		Protocol:      "ocpp1.6",
		RemoteAddr:    "[2001:db8::1]:443",
		At:            at(5),
	}
	if err := s.RecordConnected(ctx, c); err != nil {
		t.Fatal(err)
	}
	want := newCP("A")
	want.Online = true
	want.SessionID, want.GatewayID, want.Protocol, want.RemoteAddr, want.ConnectedAt = c.SessionID, c.GatewayID, c.Protocol, c.RemoteAddr, c.At
	checkCP(t, get(t, s, "A"), want)
	checkCP(t, get(t, s, "B"), newCP("B"))

	// A new session replaces every connection field.
	c2 := store.Connection{ChargePointID: "A", SessionID: "sess-2", GatewayID: "gw-west", Protocol: "ocpp2.1", RemoteAddr: "198.51.100.2:1", At: at(9)}
	if err := s.RecordConnected(ctx, c2); err != nil {
		t.Fatal(err)
	}
	want.SessionID, want.GatewayID, want.Protocol, want.RemoteAddr, want.ConnectedAt = c2.SessionID, c2.GatewayID, c2.Protocol, c2.RemoteAddr, c2.At
	checkCP(t, get(t, s, "A"), want)
}

func testRecordDisconnected(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "A")
	if err := s.RecordDisconnected(ctx, "NOPE", "s1", at(1)); err != nil {
		t.Errorf("RecordDisconnected(unknown) = %v, want nil", err)
	}
	connect(t, s, "A", "s1", "gw1", at(1))
	if err := s.RecordDisconnected(ctx, "A", "s1", at(2)); err != nil {
		t.Fatal(err)
	}
	got := get(t, s, "A")
	if got.Online {
		t.Error("still online after disconnect of its session")
	}
	if got.SessionID != "s1" {
		t.Errorf("SessionID after disconnect = %q, want the last session s1", got.SessionID)
	}
	// A second disconnect is harmless.
	if err := s.RecordDisconnected(ctx, "A", "s1", at(3)); err != nil {
		t.Fatal(err)
	}
	if get(t, s, "A").Online {
		t.Error("online after second disconnect")
	}
}

func testDisconnectOldSession(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "A")
	connect(t, s, "A", "old", "gw1", at(1))
	connect(t, s, "A", "new", "gw2", at(2)) // reconnected, maybe through another gateway
	// The old gateway reports the old socket closed afterwards.
	if err := s.RecordDisconnected(ctx, "A", "old", at(3)); err != nil {
		t.Fatal(err)
	}
	got := get(t, s, "A")
	if !got.Online || got.SessionID != "new" || got.GatewayID != "gw2" {
		t.Errorf("after disconnect of old session: online=%v session=%q gateway=%q; want true, new, gw2",
			got.Online, got.SessionID, got.GatewayID)
	}
	// The old gateway going offline does not touch it either.
	off, err := s.MarkGatewayOffline(ctx, "gw1", at(4))
	if err != nil {
		t.Fatal(err)
	}
	if len(off) != 0 {
		t.Errorf("MarkGatewayOffline(gw1) = %v, want none", off)
	}
	if !get(t, s, "A").Online {
		t.Error("offline after its old gateway went offline")
	}
}

func testMarkGatewayOffline(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "A", "B", "C", "D", "E")
	connect(t, s, "C", "s1", "gw1", at(1))
	connect(t, s, "A", "s2", "gw1", at(1))
	connect(t, s, "B", "s3", "gw2", at(1))
	connect(t, s, "D", "s4", "gw1", at(1))
	if err := s.RecordDisconnected(ctx, "D", "s4", at(2)); err != nil { // already offline
		t.Fatal(err)
	}
	off, err := s.MarkGatewayOffline(ctx, "gw1", at(3))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(off)
	if !slices.Equal(off, []string{"A", "C"}) {
		t.Errorf("MarkGatewayOffline(gw1) = %v, want [A C] in any order", off)
	}
	yes := true
	if got := list(t, s, store.ListOptions{Online: &yes}); !slices.Equal(got, []string{"B"}) {
		t.Errorf("online after gw1 went offline: %v, want [B]", got)
	}
	off, err = s.MarkGatewayOffline(ctx, "gw1", at(4))
	if err != nil || len(off) != 0 {
		t.Errorf("second MarkGatewayOffline(gw1) = %v, %v; want none", off, err)
	}
	off, err = s.MarkGatewayOffline(ctx, "gw-unknown", at(4))
	if err != nil || len(off) != 0 {
		t.Errorf("MarkGatewayOffline(unknown) = %v, %v; want none", off, err)
	}
}

func testMarkSeen(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "A", "B")
	if err := s.MarkSeen(ctx, "NOPE", at(1)); err != nil {
		t.Errorf("MarkSeen(unknown) = %v, want nil", err)
	}
	if err := s.MarkSeen(ctx, "A", at(10)); err != nil {
		t.Fatal(err)
	}
	checkTime(t, "LastSeen", get(t, s, "A").LastSeen, at(10))
	if err := s.MarkSeen(ctx, "A", at(5)); err != nil { // older: ignored
		t.Fatal(err)
	}
	checkTime(t, "LastSeen after older mark", get(t, s, "A").LastSeen, at(10))
	if err := s.MarkSeen(ctx, "A", at(11)); err != nil {
		t.Fatal(err)
	}
	checkTime(t, "LastSeen after newer mark", get(t, s, "A").LastSeen, at(11))
	checkTime(t, "LastSeen of B", get(t, s, "B").LastSeen, time.Time{})
	// Connection state is not touched.
	if get(t, s, "A").Online {
		t.Error("MarkSeen made the station online")
	}
}

func testMarkSeenConcurrent(t *testing.T, s store.Store) {
	const n = 50
	var all []string
	for i := range n {
		all = append(all, fmt.Sprintf("CP%02d", i))
	}
	add(t, s, all...)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, id := range all {
		wg.Go(func() {
			if err := s.MarkSeen(context.Background(), id, at(100+i)); err != nil {
				errs <- fmt.Errorf("MarkSeen(%s): %w", id, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Every call returned after its write: all are visible now.
	for i, id := range all {
		checkTime(t, id+" LastSeen", get(t, s, id).LastSeen, at(100+i))
	}
}

func testMarkSeenConcurrentSame(t *testing.T, s store.Store) {
	const n = 50
	add(t, s, "A")
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			// Times arrive in no particular order; the newest must win.
			if err := s.MarkSeen(context.Background(), "A", at((i*37)%n)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checkTime(t, "LastSeen", get(t, s, "A").LastSeen, at(n-1))
}

// sameJSON reports whether a and b encode the same JSON value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("stored document %q is not JSON: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("document %q is not JSON: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

func testShadowEmpty(t *testing.T, s store.Store) {
	add(t, s, "A")
	rec, err := s.GetShadow(context.Background(), "A")
	if err != nil {
		t.Fatal(err)
	}
	if rec.ChargePointID != "A" || rec.Version != 0 || rec.Document != nil || !rec.UpdatedAt.IsZero() {
		t.Errorf("empty shadow = %+v; want id A, version 0, nil document, zero time", rec)
	}
}

func testShadowPutGet(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "A")
	doc1 := json.RawMessage(`{"state":{"reported":{"model":"X","n":1,"nested":{"a":[1,2,3]}}},"version":1}`)
	if err := s.PutShadow(ctx, "A", doc1, 0, at(1)); err != nil {
		t.Fatal(err)
	}
	rec, err := s.GetShadow(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	if rec.ChargePointID != "A" || rec.Version != 1 || !sameJSON(t, rec.Document, doc1) {
		t.Errorf("shadow = %s v%d, want %s v1", rec.Document, rec.Version, doc1)
	}
	checkTime(t, "UpdatedAt", rec.UpdatedAt, at(1))

	doc2 := json.RawMessage(`{"state":{"desired":{"HeartbeatInterval":60}}}`)
	if err := s.PutShadow(ctx, "A", doc2, 1, at(2)); err != nil {
		t.Fatal(err)
	}
	rec, err = s.GetShadow(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Version != 2 || !sameJSON(t, rec.Document, doc2) {
		t.Errorf("shadow = %s v%d, want %s v2", rec.Document, rec.Version, doc2)
	}
	checkTime(t, "UpdatedAt", rec.UpdatedAt, at(2))
}

func testShadowConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "A")
	wantCode(t, s.PutShadow(ctx, "A", json.RawMessage(`{"x":1}`), 3, at(1)), ocppd.ECONFLICT)
	if rec, err := s.GetShadow(ctx, "A"); err != nil || rec.Version != 0 || rec.Document != nil {
		t.Fatalf("after conflicting put on empty shadow: %+v, %v; want version 0, nil doc", rec, err)
	}
	if err := s.PutShadow(ctx, "A", json.RawMessage(`{"x":1}`), 0, at(1)); err != nil {
		t.Fatal(err)
	}
	for _, expect := range []int64{0, 2, 5} {
		err := s.PutShadow(ctx, "A", json.RawMessage(`{"x":2}`), expect, at(2))
		wantCode(t, err, ocppd.ECONFLICT)
	}
	rec, err := s.GetShadow(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Version != 1 || !sameJSON(t, rec.Document, []byte(`{"x":1}`)) {
		t.Errorf("after conflicts: %s v%d, want {\"x\":1} v1 (nothing written)", rec.Document, rec.Version)
	}
	checkTime(t, "UpdatedAt", rec.UpdatedAt, at(1))
}

func testShadowUnknown(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.GetShadow(ctx, "NOPE")
	wantCode(t, err, ocppd.ENOTFOUND)
	wantCode(t, s.PutShadow(ctx, "NOPE", json.RawMessage(`{}`), 0, at(1)), ocppd.ENOTFOUND)
	wantCode(t, s.PutShadow(ctx, "NOPE", json.RawMessage(`{}`), 4, at(1)), ocppd.ENOTFOUND)
}

func testShadowConcurrent(t *testing.T, s store.Store) {
	const workers, each = 20, 5
	ctx := context.Background()
	add(t, s, "A")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for range each {
				for attempt := 0; ; attempt++ {
					if attempt == 10_000 {
						errs <- errors.New("no progress after 10000 attempts")
						return
					}
					rec, err := s.GetShadow(ctx, "A")
					if err != nil {
						errs <- err
						return
					}
					var doc struct {
						Count int            `json:"count"`
						By    map[string]int `json:"by"`
					}
					if rec.Document != nil {
						if err := json.Unmarshal(rec.Document, &doc); err != nil {
							errs <- err
							return
						}
					}
					if doc.By == nil {
						doc.By = map[string]int{}
					}
					doc.Count++
					doc.By[fmt.Sprint(w)]++
					b, _ := json.Marshal(doc)
					err = s.PutShadow(ctx, "A", b, rec.Version, at(int(rec.Version)))
					if err == nil {
						break
					}
					if ocppd.ErrorCode(err) != ocppd.ECONFLICT {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rec, err := s.GetShadow(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Count int            `json:"count"`
		By    map[string]int `json:"by"`
	}
	if err := json.Unmarshal(rec.Document, &doc); err != nil {
		t.Fatal(err)
	}
	if rec.Version != workers*each || doc.Count != workers*each {
		t.Errorf("after %d increments: version %d, count %d", workers*each, rec.Version, doc.Count)
	}
	for w := range workers {
		if doc.By[fmt.Sprint(w)] != each {
			t.Errorf("worker %d: %d increments stored, want %d (lost update)", w, doc.By[fmt.Sprint(w)], each)
		}
	}
}

func status(id string, evse, conn int, st string, ts int) ocppd.StatusEvent {
	return ocppd.StatusEvent{
		ChargePointID: id,
		EVSE:          evse,
		Connector:     conn,
		Status:        st,
		Timestamp:     at(ts),
		ReceivedAt:    at(ts + 1000),
	}
}

func checkEvents(t *testing.T, what string, got, want []ocppd.StatusEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d events %v, want %d %v", what, len(got), got, len(want), want)
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		checkTime(t, fmt.Sprintf("%s[%d] Timestamp", what, i), g.Timestamp, w.Timestamp)
		checkTime(t, fmt.Sprintf("%s[%d] ReceivedAt", what, i), g.ReceivedAt, w.ReceivedAt)
		g.Timestamp, w.Timestamp, g.ReceivedAt, w.ReceivedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if g != w {
			t.Errorf("%s[%d] = %+v, want %+v", what, i, g, w)
		}
	}
}

func addStatus(t *testing.T, s store.Store, evs ...ocppd.StatusEvent) {
	t.Helper()
	for _, ev := range evs {
		if err := s.AddStatus(context.Background(), ev); err != nil {
			t.Fatalf("AddStatus(%+v): %v", ev, err)
		}
	}
}

func testStatus(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "A")
	if cur, err := s.CurrentStatus(ctx, "A"); err != nil || len(cur) != 0 {
		t.Fatalf("CurrentStatus before any event = %v, %v; want none", cur, err)
	}
	e1 := status("A", 2, 1, "Available", 1)
	e2 := status("A", 1, 1, "Available", 2)
	e3 := status("A", 0, 0, "Available", 3) // the station as a whole
	e4 := status("A", 1, 2, "Available", 4)
	e5 := status("A", 1, 1, "Faulted", 5)
	e5.ErrorCode, e5.Info = "GroundFailure", "RCD tripped"
	e6 := status("A", 1, 1, "Occupied", 6)
	addStatus(t, s, e1, e2, e3, e4, e5, e6)

	cur, err := s.CurrentStatus(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "CurrentStatus", cur, []ocppd.StatusEvent{e3, e6, e4, e1})

	hist, err := s.StatusHistory(ctx, "A", 100)
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "StatusHistory", hist, []ocppd.StatusEvent{e6, e5, e4, e3, e2, e1})
}

func testStatusOlder(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "A")
	newer := status("A", 1, 1, "Charging", 50)
	older := status("A", 1, 1, "Preparing", 40) // queued offline, delivered late
	older.ReceivedAt = at(2000)
	addStatus(t, s, newer, older)
	cur, err := s.CurrentStatus(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "CurrentStatus", cur, []ocppd.StatusEvent{newer})
	// The history keeps both, in the station's time order.
	hist, err := s.StatusHistory(ctx, "A", 10)
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "StatusHistory", hist, []ocppd.StatusEvent{newer, older})

	// An event with the same timestamp replaces the current one, and in the
	// history the later arrival comes first.
	same := status("A", 1, 1, "SuspendedEV", 50)
	addStatus(t, s, same)
	cur, err = s.CurrentStatus(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "CurrentStatus after same-time event", cur, []ocppd.StatusEvent{same})
	hist, err = s.StatusHistory(ctx, "A", 10)
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "StatusHistory after same-time event", hist, []ocppd.StatusEvent{same, newer, older})
}

func testStatusHistoryLimit(t *testing.T, s store.Store) {
	add(t, s, "A")
	var evs []ocppd.StatusEvent
	for i := range 8 {
		evs = append(evs, status("A", 1, 1, fmt.Sprintf("S%d", i), i))
	}
	addStatus(t, s, evs...)
	hist, err := s.StatusHistory(context.Background(), "A", 3)
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "StatusHistory(3)", hist, []ocppd.StatusEvent{evs[7], evs[6], evs[5]})
}

func testStatusPerStation(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "A", "B")
	a := status("A", 1, 1, "Available", 1)
	b := status("B", 1, 1, "Unavailable", 2)
	addStatus(t, s, a, b)
	cur, err := s.CurrentStatus(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "CurrentStatus(A)", cur, []ocppd.StatusEvent{a})
	hist, err := s.StatusHistory(ctx, "B", 10)
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "StatusHistory(B)", hist, []ocppd.StatusEvent{b})
	if cur, err := s.CurrentStatus(ctx, "NOPE"); err != nil || len(cur) != 0 {
		t.Errorf("CurrentStatus(unknown) = %v, %v; want none, nil", cur, err)
	}
}

func testCloseIdempotent(t *testing.T, s store.Store) {
	add(t, s, "A")
	if err := s.MarkSeen(context.Background(), "A", at(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
