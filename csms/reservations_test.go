package csms

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/store"
)

// TestReservationsTracked: a ReserveNow is stored as requested when
// issued and gets the station's answer; CancelReservation Accepted
// cancels it; a transaction started with its id uses it; a 2.x
// ReservationStatusUpdate expires or removes it; a CALLERROR makes it
// Failed; a finished one is not reopened.
func TestReservationsTracked(t *testing.T) {
	for _, v := range []ocpp.Version{ocpp.V16, ocpp.V201} {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t)
			e.addCP("CP1", ocppd.RegistrationAccepted, v)
			e.putToken("TAG-R", "ISO14443", "Accepted")
			st := e.station("CP1", v)
			ctx := context.Background()
			expiry := e.clock.Now().Add(time.Hour)
			reserve := func(id int) string {
				if v == ocpp.V16 {
					b, _ := json.Marshal(m{"connectorId": 1, "expiryDate": ts(expiry), "idTag": "TAG-R", "reservationId": id})
					return string(b)
				}
				b, _ := json.Marshal(m{"id": id, "evseId": 1, "expiryDateTime": ts(expiry), "idToken": m{"idToken": "TAG-R", "type": "ISO14443"}})
				return string(b)
			}
			status := func(id int) string {
				r, err := e.db.GetReservation(ctx, "CP1", id)
				if err != nil {
					t.Fatalf("reservation %d: %v", id, err)
				}
				return r.Status
			}
			send := func(action, payload string) (Command, ocpp.Frame) {
				c, err := e.svc.Send(ctx, "CP1", action, json.RawMessage(payload))
				if err != nil {
					t.Fatal(err)
				}
				return c, st.next()
			}
			answer := func(c Command, f ocpp.Frame, resp string) {
				st.publish(ocpp.AppendCallResult(nil, f.ID, json.RawMessage(resp)))
				if _, err := e.svc.Wait(ctx, c.ID); err != nil {
					t.Fatal(err)
				}
			}

			// 1: requested, then Accepted, then used by a transaction.
			c, f := send("ReserveNow", reserve(1))
			if got := status(1); got != store.ReservationRequested {
				t.Fatalf("issued: %q", got)
			}
			answer(c, f, `{"status":"Accepted"}`)
			r, _ := e.db.GetReservation(ctx, "CP1", 1)
			if r.Status != "Accepted" || r.IDToken != "TAG-R" || !r.ExpiresAt.Equal(expiry) || r.CommandID != c.ID ||
				(v == ocpp.V16 && r.Connector != 1) || (v == ocpp.V201 && (r.EVSE != 1 || r.IDTokenType != "ISO14443")) {
				t.Fatalf("accepted: %+v", r)
			}
			if v == ocpp.V16 {
				st.call("StartTransaction", m{"connectorId": 1, "idTag": "TAG-R", "meterStart": 0, "timestamp": ts(e.clock.Now()), "reservationId": 1}, nil)
			} else {
				st.call("TransactionEvent", txEventPayload("Started", "tx-r", 0, e.clock.Now(), m{"reservationId": 1,
					"idToken": m{"idToken": "TAG-R", "type": "ISO14443"}, "evse": m{"id": 1, "connectorId": 1}}), nil)
			}
			if got := status(1); got != store.ReservationUsed {
				t.Fatalf("after the start: %q", got)
			}
			// A CancelReservation accepted late does not reopen it.
			c, f = send("CancelReservation", `{"reservationId":1}`)
			answer(c, f, `{"status":"Accepted"}`)
			if got := status(1); got != store.ReservationUsed {
				t.Fatalf("a used reservation cancelled: %q", got)
			}

			// 2: Occupied; 3: Accepted then cancelled; 4: a CALLERROR.
			c, f = send("ReserveNow", reserve(2))
			answer(c, f, `{"status":"Occupied"}`)
			if got := status(2); got != "Occupied" {
				t.Fatalf("occupied: %q", got)
			}
			c, f = send("ReserveNow", reserve(3))
			answer(c, f, `{"status":"Accepted"}`)
			c, f = send("CancelReservation", `{"reservationId":3}`)
			answer(c, f, `{"status":"Accepted"}`)
			if got := status(3); got != store.ReservationCancelled {
				t.Fatalf("cancelled: %q", got)
			}
			c, f = send("ReserveNow", reserve(4))
			st.publish(ocpp.AppendCallError(nil, f.ID, "InternalError", "boom", nil))
			e.svc.Wait(ctx, c.ID)
			if got := status(4); got != store.ReservationFailed {
				t.Fatalf("CALLERROR: %q", got)
			}

			if v == ocpp.V201 {
				c, f = send("ReserveNow", reserve(5))
				answer(c, f, `{"status":"Accepted"}`)
				st.call("ReservationStatusUpdate", m{"reservationId": 5, "reservationUpdateStatus": "Expired"}, nil)
				if got := status(5); got != store.ReservationExpired {
					t.Fatalf("ReservationStatusUpdate Expired: %q", got)
				}
				// Unknown reservations are answered all the same, and logged.
				st.call("ReservationStatusUpdate", m{"reservationId": 77, "reservationUpdateStatus": "Removed"}, nil)
				if evs, _ := e.db.ListStationEvents(ctx, "CP1", "ReservationStatusUpdate", 0); len(evs) != 2 {
					t.Fatalf("logged %d ReservationStatusUpdates", len(evs))
				}
			}
			list, _ := e.db.ListReservations(ctx, store.ReservationFilter{ChargePointID: "CP1"})
			if (v == ocpp.V16 && len(list) != 4) || (v == ocpp.V201 && len(list) != 5) {
				t.Fatalf("reservations %+v", list)
			}
		})
	}
}
