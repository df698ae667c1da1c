package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// testReservations checks store.Reservations: put and replace by id (not
// by an older request), conditional status updates, Expired computed on
// read, the filters, ENOTFOUND and the cascade on station delete.
func testReservations(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1", "CP2")
	future := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	r1 := store.Reservation{ChargePointID: "CP1", ReservationID: 1, Connector: 2, IDToken: "TAG1", GroupID: "FLEET",
		ExpiresAt: future, Status: store.ReservationRequested, CommandID: "c1", RequestedAt: at(10), UpdatedAt: at(10)}
	if err := s.PutReservation(ctx, r1); err != nil {
		t.Fatal(err)
	}
	r1.Status, r1.UpdatedAt = "Accepted", at(11)
	if err := s.PutReservation(ctx, r1); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetReservation(ctx, "CP1", 1)
	if err != nil || got.Status != "Accepted" || got.Connector != 2 || got.IDToken != "TAG1" || got.GroupID != "FLEET" || got.CommandID != "c1" {
		t.Fatalf("GetReservation = %+v, %v", got, err)
	}
	checkTime(t, "ExpiresAt", got.ExpiresAt, future)
	checkTime(t, "RequestedAt", got.RequestedAt, at(10))
	checkTime(t, "UpdatedAt", got.UpdatedAt, at(11))

	// A newer ReserveNow with the same id replaces it; a late answer to
	// the older one does not come back.
	r1b := store.Reservation{ChargePointID: "CP1", ReservationID: 1, EVSE: 1, ConnectorType: "cType2", IDToken: "TAG2", IDTokenType: "ISO14443",
		ExpiresAt: future, Status: store.ReservationRequested, CommandID: "c2", RequestedAt: at(20), UpdatedAt: at(20)}
	if err := s.PutReservation(ctx, r1b); err != nil {
		t.Fatal(err)
	}
	r1.Status = "Rejected"
	if err := s.PutReservation(ctx, r1); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetReservation(ctx, "CP1", 1)
	if got.CommandID != "c2" || got.IDToken != "TAG2" || got.IDTokenType != "ISO14443" || got.EVSE != 1 || got.ConnectorType != "cType2" ||
		got.Status != store.ReservationRequested {
		t.Fatalf("after replace and a late older answer = %+v", got)
	}

	// Conditional updates.
	active := []string{store.ReservationRequested, "Accepted"}
	if ok, err := s.UpdateReservationStatus(ctx, "CP1", 1, store.ReservationUsed, active, at(30)); err != nil || !ok {
		t.Fatalf("UpdateReservationStatus Used = %v, %v", ok, err)
	}
	if ok, err := s.UpdateReservationStatus(ctx, "CP1", 1, store.ReservationCancelled, active, at(31)); err != nil || ok {
		t.Fatalf("UpdateReservationStatus of a used one = %v, %v; want no change", ok, err)
	}
	got, _ = s.GetReservation(ctx, "CP1", 1)
	if got.Status != store.ReservationUsed {
		t.Fatalf("status = %q", got.Status)
	}
	checkTime(t, "UpdatedAt", got.UpdatedAt, at(30))
	if ok, err := s.UpdateReservationStatus(ctx, "CP1", 1, "Removed", nil, at(32)); err != nil || !ok {
		t.Fatalf("UpdateReservationStatus from any = %v, %v", ok, err)
	}
	_, err = s.UpdateReservationStatus(ctx, "CP1", 99, "Removed", nil, at(32))
	wantCode(t, err, ocppd.ENOTFOUND)
	_, err = s.GetReservation(ctx, "CP1", 99)
	wantCode(t, err, ocppd.ENOTFOUND)
	wantCode(t, s.PutReservation(ctx, store.Reservation{ChargePointID: "NOPE", ReservationID: 1, IDToken: "X", ExpiresAt: future, Status: "Accepted"}), ocppd.ENOTFOUND)

	// Elapsed: an Accepted reservation past its expiry reads as Expired;
	// a final status stays.
	for _, r := range []store.Reservation{
		{ChargePointID: "CP2", ReservationID: 1, IDToken: "T", ExpiresAt: past, Status: "Accepted", RequestedAt: at(40)},
		{ChargePointID: "CP2", ReservationID: 2, IDToken: "T", ExpiresAt: past, Status: store.ReservationCancelled, RequestedAt: at(41)},
		{ChargePointID: "CP2", ReservationID: 3, IDToken: "T", ExpiresAt: future, Status: "Accepted", RequestedAt: at(42)},
	} {
		if err := s.PutReservation(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.GetReservation(ctx, "CP2", 1); got.Status != store.ReservationExpired {
		t.Errorf("elapsed Accepted reads %q", got.Status)
	}
	ids := func(rs []store.Reservation) (out []string) {
		for _, r := range rs {
			out = append(out, r.ChargePointID+"/"+r.Status)
		}
		return out
	}
	all, err := s.ListReservations(ctx, store.ReservationFilter{})
	if err != nil || len(all) != 4 || all[0].ReservationID != 3 || all[3].ChargePointID != "CP1" {
		t.Fatalf("ListReservations all = %v, %v", ids(all), err)
	}
	if l, _ := s.ListReservations(ctx, store.ReservationFilter{ChargePointID: "CP2", Status: store.ReservationExpired}); len(l) != 1 || l[0].ReservationID != 1 {
		t.Errorf("ListReservations Expired = %v", ids(l))
	}
	if l, _ := s.ListReservations(ctx, store.ReservationFilter{Status: "Accepted"}); len(l) != 1 || l[0].ReservationID != 3 {
		t.Errorf("ListReservations Accepted = %v", ids(l))
	}
	if l, _ := s.ListReservations(ctx, store.ReservationFilter{ChargePointID: "CP2", Limit: 2}); len(l) != 2 || l[0].ReservationID != 3 {
		t.Errorf("ListReservations limit = %v", ids(l))
	}
	if err := s.DeleteChargePoint(ctx, "CP2"); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.ListReservations(ctx, store.ReservationFilter{ChargePointID: "CP2"}); len(l) != 0 {
		t.Errorf("reservations of a deleted station = %v", ids(l))
	}
}
