package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ocppd/ocppd/store"
)

// testMeterSamplesIdempotent checks that a sample with the identity of a
// stored one is skipped (AddMeterSamples, within one call, and the
// samples of ApplyTransactionUpdate), that each part of the identity
// tells samples apart, and that a signed value and its plain twin are two
// samples.
func testMeterSamplesIdempotent(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1", "CP2")
	one := store.MeterSample{ChargePointID: "CP1", TransactionID: "T1", EVSE: 1, Connector: 1, Timestamp: at(60),
		Measurand: "Energy.Active.Import.Register", Unit: "Wh", Location: "Outlet", Context: "Sample.Periodic",
		Value: 1500, ReceivedAt: at(61)}
	count := func(cp string) int {
		t.Helper()
		got, err := s.ListMeterSamples(ctx, store.MeterFilter{ChargePointID: cp})
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	if err := s.AddMeterSamples(ctx, []store.MeterSample{one, one}); err != nil {
		t.Fatalf("a batch with a repeated sample: %v", err)
	}
	if n := count("CP1"); n != 1 {
		t.Fatalf("%d samples after adding one twice in a batch, want 1", n)
	}
	again := one
	again.Value, again.ReceivedAt = 1600, at(120) // the first one stays
	if err := s.AddMeterSamples(ctx, []store.MeterSample{again}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListMeterSamples(ctx, store.MeterFilter{ChargePointID: "CP1"})
	if err != nil || len(got) != 1 || got[0].Value != 1500 {
		t.Fatalf("after a redelivery: %+v, %v; want the first sample only", got, err)
	}
	checkTime(t, "ReceivedAt", got[0].ReceivedAt, at(61))

	// Every part of the identity makes a different sample.
	variants := []func(m *store.MeterSample){
		func(m *store.MeterSample) { m.ChargePointID = "CP2" },
		func(m *store.MeterSample) { m.TransactionID = "T2" },
		func(m *store.MeterSample) { m.TransactionID = "" },
		func(m *store.MeterSample) { m.EVSE = 2 },
		func(m *store.MeterSample) { m.Connector = 2 },
		func(m *store.MeterSample) { m.Timestamp = m.Timestamp.Add(1e6) }, // 1 ms later
		func(m *store.MeterSample) { m.Measurand = "Power.Active.Import" },
		func(m *store.MeterSample) { m.Phase = "L1" },
		func(m *store.MeterSample) { m.Location = "EV" },
		func(m *store.MeterSample) { m.Context = "Transaction.End" },
		func(m *store.MeterSample) { m.Unit = "kWh" },
		func(m *store.MeterSample) { m.Signed = json.RawMessage(`"OCMF|{}|{}"`) },
	}
	var batch []store.MeterSample
	for _, f := range variants {
		m := one
		f(&m)
		batch = append(batch, m)
	}
	if err := s.AddMeterSamples(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMeterSamples(ctx, batch); err != nil { // and all of them again
		t.Fatal(err)
	}
	if n, want := count("CP1")+count("CP2"), 1+len(variants); n != want {
		t.Fatalf("%d samples, want %d: each part of the identity tells samples apart, and a repeat adds none", n, want)
	}

	// Samples stored with a transaction message are deduplicated against
	// the ones stored alone, and the message's own retry adds none.
	before := count("CP1")
	upd := func(key string) store.TransactionUpdate {
		return store.TransactionUpdate{ChargePointID: "CP1", TransactionID: "T1", EventKey: key, EventType: "Updated",
			Timestamp: at(90), At: at(91), Samples: []store.MeterSample{one, {ChargePointID: "CP1", EVSE: 1, Connector: 1,
				Timestamp: at(90), Measurand: "Energy.Active.Import.Register", Unit: "Wh", Location: "Outlet",
				Context: "Sample.Periodic", Value: 1700}}}
	}
	if _, _, err := s.ApplyTransactionUpdate(ctx, upd("T1#1")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ApplyTransactionUpdate(ctx, upd("T1#2")); err != nil { // same samples under another key
		t.Fatal(err)
	}
	if n := count("CP1"); n != before+1 {
		t.Fatalf("%d samples after two updates with the same samples, want %d", n, before+1)
	}
	txs, err := s.ListMeterSamples(ctx, store.MeterFilter{ChargePointID: "CP1", TransactionID: "T1", From: at(90)})
	if err != nil || fmt.Sprint(values(txs)) != "[1700]" {
		t.Fatalf("the update's new sample: %v, %v; want [1700]", values(txs), err)
	}
}
