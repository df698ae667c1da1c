package csms

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/v16"
	"github.com/ocppd/ocppd/store"
)

// TestMeterValues16InTransaction: 1.6 MeterValues naming a running
// transaction keep its latest reading, energy so far and last event time
// up to date (as a 2.x TransactionEvent Updated does); a repeat changes
// nothing and adds no samples; a later stop wins; values after the stop do
// not move it; values of an unknown transaction are stored without making
// up a row; another station's transaction is refused.
func TestMeterValues16InTransaction(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V16)
	e.addCP("CP2", ocppd.RegistrationAccepted, ocpp.V16)
	e.putToken("TAG-1", "ISO14443", "Accepted")
	st := e.station("CP1", ocpp.V16)
	ctx := context.Background()
	t0 := e.clock.Now()

	var started v16.StartTransactionResponse
	st.call("StartTransaction", m{"connectorId": 1, "idTag": "TAG-1", "meterStart": 1000, "timestamp": ts(t0)}, &started)
	txID := strconv.Itoa(started.TransactionID)
	mv := func(at time.Time, wh string) m {
		return m{"connectorId": 1, "transactionId": started.TransactionID, "meterValue": []m{{"timestamp": ts(at),
			"sampledValue": []m{{"value": wh}, {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"}}}}}
	}
	live := func(what string, wantWh, wantEnergy float64, wantLast time.Time) store.Transaction {
		t.Helper()
		tx, err := e.db.GetTransaction(ctx, "CP1", txID)
		if err != nil {
			t.Fatal(err)
		}
		if tx.MeterStopWh == nil || *tx.MeterStopWh != wantWh || tx.EnergyWh != wantEnergy || !tx.LastEventAt.Equal(wantLast) {
			t.Fatalf("%s: latest reading %v, energy %v, last event %v; want %v, %v, %v", what, tx.MeterStopWh, tx.EnergyWh,
				tx.LastEventAt, wantWh, wantEnergy, wantLast)
		}
		return tx
	}
	st.call("MeterValues", mv(t0.Add(10*time.Minute), "2500"), nil)
	tx := live("after 10 min", 2500, 1500, t0.Add(10*time.Minute))
	if tx.State != store.TransactionActive || tx.Duration() != 10*time.Minute || *tx.MeterStartWh != 1000 {
		t.Fatalf("live transaction %+v", tx)
	}
	st.call("MeterValues", mv(t0.Add(20*time.Minute), "4000"), nil)
	st.call("MeterValues", mv(t0.Add(20*time.Minute), "4000"), nil) // a retry
	live("after 20 min and a repeat", 4000, 3000, t0.Add(20*time.Minute))
	st.call("MeterValues", mv(t0.Add(5*time.Minute), "1800"), nil) // late (queued): not the latest
	live("after a late reading", 4000, 3000, t0.Add(20*time.Minute))
	samples, _ := e.db.ListMeterSamples(ctx, store.MeterFilter{ChargePointID: "CP1", TransactionID: txID})
	if len(samples) != 6 {
		t.Fatalf("%d samples, want 6 (3 messages × 2, the repeat not again)", len(samples))
	}

	st.call("StopTransaction", m{"transactionId": started.TransactionID, "meterStop": 5000, "timestamp": ts(t0.Add(30 * time.Minute))}, nil)
	st.call("MeterValues", mv(t0.Add(40*time.Minute), "9999"), nil) // after the stop
	tx = live("after the stop", 5000, 4000, t0.Add(30*time.Minute))
	if tx.State != store.TransactionEnded {
		t.Fatalf("ended transaction %+v", tx)
	}

	st.call("MeterValues", m{"connectorId": 1, "transactionId": 424242, "meterValue": []m{{"timestamp": ts(t0),
		"sampledValue": []m{{"value": "1"}}}}}, nil)
	if _, err := e.db.GetTransaction(ctx, "CP1", "424242"); ocppd.ErrorCode(err) != ocppd.ENOTFOUND {
		t.Fatalf("meter values of an unknown transaction made a row: %v", err)
	}
	if got, _ := e.db.ListMeterSamples(ctx, store.MeterFilter{ChargePointID: "CP1", TransactionID: "424242"}); len(got) != 1 {
		t.Fatalf("meter values of an unknown transaction: %d samples stored, want 1", len(got))
	}
	e.station("CP2", ocpp.V16).callError("MeterValues", mv(t0.Add(time.Minute), "1"), "SecurityError")
}
