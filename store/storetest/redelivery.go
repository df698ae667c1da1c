package storetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// testNotificationsIdempotent: a StatusNotification or a logged
// notification delivered twice (a broker redelivery, a station repeating
// a message whose answer it lost) is stored once; one that differs in its
// identity is a new one.
func testNotificationsIdempotent(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "A")

	e1 := status("A", 1, 1, "Occupied", 1)
	again := e1
	again.ReceivedAt = at(2000) // received later, the same event
	again.Info = "delivered again"
	other := status("A", 1, 1, "Available", 1) // same instant, another status
	faulted := status("A", 1, 1, "Occupied", 1)
	faulted.ErrorCode = "GroundFailure" // same status, another error code
	addStatus(t, s, e1, again, other, faulted)
	hist, err := s.StatusHistory(ctx, "A", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 {
		t.Errorf("StatusHistory holds %d events, want 3 (the redelivery stored once): %+v", len(hist), hist)
	}
	for _, ev := range hist {
		if ev.Info == "delivered again" {
			t.Errorf("the redelivery replaced the event: %+v", ev)
		}
	}
	// A redelivery of an older event does not move the current status
	// back either.
	addStatus(t, s, status("A", 1, 1, "Faulted", 5), again)
	cur, err := s.CurrentStatus(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	if len(cur) != 1 || cur[0].Status != "Faulted" {
		t.Errorf("CurrentStatus = %+v, want Faulted", cur)
	}
	if err := s.AddStatus(ctx, status("nope", 1, 1, "Occupied", 1)); ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
		t.Errorf("AddStatus of an unknown station: %v, want ENOTFOUND", err)
	}

	ev := store.StationEvent{ChargePointID: "A", Action: "NotifyEvent", Status: "Delta", Timestamp: at(3),
		Payload: json.RawMessage(`{"generatedAt":"2025-03-14T09:26:56.589Z","seqNo":0,"eventData":[]}`), ReceivedAt: at(4)}
	evAgain := ev
	evAgain.ReceivedAt = at(9)
	next := ev
	next.Payload = json.RawMessage(`{"generatedAt":"2025-03-14T09:26:56.589Z","seqNo":1,"eventData":[]}`)
	fw := store.StationEvent{ChargePointID: "A", Action: "FirmwareStatusNotification", Status: "Downloading",
		Payload: json.RawMessage(`{"status":"Downloading","requestId":1}`), ReceivedAt: at(5)}
	fwLater := fw // the same payload received later, with no timestamp of its own: a new event
	fwLater.ReceivedAt = at(50)
	for _, e := range []store.StationEvent{ev, evAgain, next, fw, fwLater} {
		if err := s.AddStationEvent(ctx, e); err != nil {
			t.Fatalf("AddStationEvent(%+v): %v", e, err)
		}
	}
	evs, err := s.ListStationEvents(ctx, "A", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 {
		t.Errorf("ListStationEvents holds %d events, want 4 (the NotifyEvent redelivery stored once): %+v", len(evs), evs)
	}
}
