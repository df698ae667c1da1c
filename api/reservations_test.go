package api

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ocppd/ocppd/store"
)

// TestReservations: GET /reservations lists what the store keeps,
// filtered by station and status.
func TestReservations(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1")
	e.addCP("CP2")
	ctx := context.Background()
	r := e.do("GET", "/api/v1/reservations", e.readOnly, nil)
	want(t, r, http.StatusOK)
	if string(r.body) != `{"items":[]}`+"\n" {
		t.Fatalf("empty: %q", r.body)
	}
	now := time.Now()
	for i, rv := range []store.Reservation{
		{ChargePointID: "CP1", ReservationID: 1, Connector: 1, IDToken: "T1", ExpiresAt: now.Add(time.Hour), Status: "Accepted", RequestedAt: now},
		{ChargePointID: "CP1", ReservationID: 2, IDToken: "T2", ExpiresAt: now.Add(time.Hour), Status: "Used", RequestedAt: now.Add(time.Second)},
		{ChargePointID: "CP2", ReservationID: 1, EVSE: 2, IDToken: "T3", ExpiresAt: now.Add(-time.Minute), Status: "Accepted", RequestedAt: now.Add(2 * time.Second)},
	} {
		if err := e.store.PutReservation(ctx, rv); err != nil {
			t.Fatal(i, err)
		}
	}
	var got List[map[string]any]
	r = e.do("GET", "/api/v1/reservations?cp=CP1", e.readOnly, nil)
	want(t, r, http.StatusOK)
	r.decode(t, &got)
	if len(got.Items) != 2 || got.Items[0]["reservationId"] != 2.0 || got.Items[1]["idToken"] != "T1" || got.Items[1]["connectorId"] != 1.0 {
		t.Fatalf("cp=CP1: %s", r.body)
	}
	r = e.do("GET", "/api/v1/reservations?status=Expired", e.readOnly, nil)
	want(t, r, http.StatusOK)
	got = List[map[string]any]{}
	r.decode(t, &got)
	if len(got.Items) != 1 || got.Items[0]["chargePointId"] != "CP2" || got.Items[0]["evseId"] != 2.0 {
		t.Fatalf("status=Expired: %s", r.body)
	}
	want(t, e.do("GET", "/api/v1/reservations?limit=0", e.readOnly, nil), http.StatusBadRequest, "limit")
}
