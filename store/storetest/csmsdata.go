package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// testTransactions checks ApplyTransactionUpdate: creation, idempotency on
// the event key, id assignment, foreign stations, samples stored with the
// update, aborts, and listing.
func testTransactions(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1", "CP2")
	start := func(key string) (store.Transaction, bool, error) {
		return s.ApplyTransactionUpdate(ctx, store.TransactionUpdate{
			ChargePointID: "CP1", EventKey: key, EventType: "StartTransaction", Timestamp: at(0), At: at(1),
			Event: json.RawMessage(`{"connectorId":1}`),
			Apply: func(tx *store.Transaction, found bool) error {
				if found {
					return errors.New("a new id must not exist yet")
				}
				wh := 1000.0
				tx.Protocol, tx.Connector, tx.IDToken, tx.StartedAt = "ocpp1.6", 1, "TAG", at(0)
				tx.MeterStartWh, tx.MeterStartAt = &wh, at(0)
				return nil
			},
		})
	}
	tx1, dup, err := start("start:1:TAG:0")
	if err != nil || dup {
		t.Fatalf("first start: %+v, dup %v, %v", tx1, dup, err)
	}
	if _, err := strconv.Atoi(tx1.TransactionID); err != nil {
		t.Errorf("assigned id %q is not numeric", tx1.TransactionID)
	}
	if tx1.State != store.TransactionActive || tx1.IDToken != "TAG" || tx1.MeterStartWh == nil || *tx1.MeterStartWh != 1000 {
		t.Errorf("started transaction = %+v", tx1)
	}
	checkTime(t, "StartedAt", tx1.StartedAt, at(0))
	checkTime(t, "UpdatedAt", tx1.UpdatedAt, at(1))
	again, dup, err := start("start:1:TAG:0")
	if err != nil || !dup || again.TransactionID != tx1.TransactionID {
		t.Fatalf("repeated start: %+v, dup %v, %v; want the same transaction as a duplicate", again, dup, err)
	}
	tx2, _, err := start("start:1:TAG:60000")
	if err != nil || tx2.TransactionID == tx1.TransactionID {
		t.Fatalf("second start: %+v, %v", tx2, err)
	}

	// Stop with samples in the same update.
	stop := store.TransactionUpdate{
		ChargePointID: "CP1", TransactionID: tx1.TransactionID, EventKey: "stop:" + tx1.TransactionID,
		EventType: "StopTransaction", Timestamp: at(3600), At: at(3601),
		Samples: []store.MeterSample{{ChargePointID: "CP1", Connector: 1, Timestamp: at(3600), Measurand: "Energy.Active.Import.Register",
			Unit: "Wh", Location: "Outlet", Context: "Transaction.End", Value: 8500, Signed: json.RawMessage(`"c2lnbmVk"`)}},
		Apply: func(tx *store.Transaction, found bool) error {
			if !found {
				return errors.New("not found")
			}
			wh := 8500.0
			tx.State, tx.EndedAt, tx.MeterStopWh, tx.MeterStopAt = store.TransactionEnded, at(3600), &wh, at(3600)
			tx.EnergyWh, tx.StopReason = wh-*tx.MeterStartWh, "EVDisconnected"
			return nil
		},
	}
	ended, dup, err := s.ApplyTransactionUpdate(ctx, stop)
	if err != nil || dup {
		t.Fatal(err)
	}
	if ended.State != store.TransactionEnded || ended.EnergyWh != 7500 || ended.Duration().Seconds() != 3600 || ended.StopReason != "EVDisconnected" {
		t.Errorf("ended transaction = %+v (duration %v)", ended, ended.Duration())
	}
	if _, dup, _ := s.ApplyTransactionUpdate(ctx, stop); !dup {
		t.Error("repeated stop was applied again")
	}
	got, err := s.GetTransaction(ctx, "CP1", tx1.TransactionID)
	if err != nil || got.State != store.TransactionEnded || got.EnergyWh != 7500 {
		t.Errorf("GetTransaction = %+v, %v", got, err)
	}
	samples, err := s.ListMeterSamples(ctx, store.MeterFilter{ChargePointID: "CP1", TransactionID: tx1.TransactionID})
	if err != nil || len(samples) != 1 || samples[0].Value != 8500 || samples[0].Context != "Transaction.End" {
		t.Fatalf("samples of the stop = %+v, %v (want one, not two: the repeat was not applied)", samples, err)
	}
	wantJSON(t, "signed", samples[0].Signed, `"c2lnbmVk"`)

	// Another station may not touch CP1's transaction.
	_, _, err = s.ApplyTransactionUpdate(ctx, store.TransactionUpdate{ChargePointID: "CP2", TransactionID: tx1.TransactionID,
		EventKey: "stop:" + tx1.TransactionID, EventType: "StopTransaction", Timestamp: at(5), Apply: func(*store.Transaction, bool) error { return nil }})
	wantCode(t, err, ocppd.EFORBIDDEN)
	// Unknown station.
	_, _, err = s.ApplyTransactionUpdate(ctx, store.TransactionUpdate{ChargePointID: "NOPE", TransactionID: "x", EventKey: "k", EventType: "Started", Timestamp: at(5)})
	wantCode(t, err, ocppd.ENOTFOUND)
	// An Apply error aborts everything, the event key included.
	abort := store.TransactionUpdate{ChargePointID: "CP2", TransactionID: "uuid-1", EventKey: "uuid-1#0", EventType: "Started", Timestamp: at(5),
		Samples: []store.MeterSample{{ChargePointID: "CP2", Timestamp: at(5), Measurand: "Power.Active.Import", Value: 1}},
		Apply:   func(*store.Transaction, bool) error { return ocppd.Errorf(ocppd.EINVALID, "no") }}
	_, _, err = s.ApplyTransactionUpdate(ctx, abort)
	wantCode(t, err, ocppd.EINVALID)
	abort.Apply = func(tx *store.Transaction, found bool) error {
		tx.Protocol, tx.EVSE, tx.Connector, tx.StartedAt, tx.LastSeqNo = "ocpp2.0.1", 1, 1, at(5), 0
		return nil
	}
	tx3, dup, err := s.ApplyTransactionUpdate(ctx, abort)
	if err != nil || dup || tx3.TransactionID != "uuid-1" || tx3.EVSE != 1 {
		t.Fatalf("after an aborted attempt: %+v, dup %v, %v", tx3, dup, err)
	}
	if ms, _ := s.ListMeterSamples(ctx, store.MeterFilter{ChargePointID: "CP2"}); len(ms) != 1 {
		t.Errorf("CP2 has %d samples, want 1", len(ms))
	}
	_, err = s.GetTransaction(ctx, "CP2", tx1.TransactionID)
	wantCode(t, err, ocppd.ENOTFOUND)

	all, err := s.ListTransactions(ctx, store.TransactionFilter{})
	if err != nil || len(all) != 3 {
		t.Fatalf("ListTransactions = %d, %v", len(all), err)
	}
	active, _ := s.ListTransactions(ctx, store.TransactionFilter{ChargePointID: "CP1", State: store.TransactionActive})
	if len(active) != 1 || active[0].TransactionID != tx2.TransactionID {
		t.Errorf("active of CP1 = %+v", active)
	}
}

// testMeterSamples checks the time series outside transactions and its
// filters.
func testMeterSamples(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1")
	var batch []store.MeterSample
	for i := range 6 {
		m := "Energy.Active.Import.Register"
		if i%2 == 1 {
			m = "Voltage"
		}
		batch = append(batch, store.MeterSample{ChargePointID: "CP1", EVSE: 1, Connector: 1, Timestamp: at(60 * (5 - i)), Measurand: m,
			Phase: "L1", Unit: "Wh", Location: "Outlet", Context: "Sample.Periodic", Value: float64(i), ReceivedAt: at(400)})
	}
	if err := s.AddMeterSamples(ctx, batch); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.AddMeterSamples(ctx, []store.MeterSample{{ChargePointID: "NOPE", Timestamp: at(0), Measurand: "x"}}), ocppd.ENOTFOUND)
	got, err := s.ListMeterSamples(ctx, store.MeterFilter{ChargePointID: "CP1"})
	if err != nil || len(got) != 6 {
		t.Fatalf("ListMeterSamples = %d, %v", len(got), err)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Timestamp.Before(got[i-1].Timestamp) {
			t.Fatalf("samples not ordered by time: %v", got)
		}
	}
	if got[0].Value != 5 || got[0].Phase != "L1" || got[0].EVSE != 1 || got[0].Location != "Outlet" {
		t.Errorf("first sample = %+v", got[0])
	}
	checkTime(t, "ReceivedAt", got[0].ReceivedAt, at(400))
	volts, _ := s.ListMeterSamples(ctx, store.MeterFilter{ChargePointID: "CP1", Measurand: "Voltage", From: at(60), To: at(300), Limit: 10})
	if fmt.Sprint(values(volts)) != "[3 1]" {
		t.Errorf("voltage in [60s, 300s) = %v, want [3 1]", values(volts))
	}
}

func values(ss []store.MeterSample) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = s.Value
	}
	return out
}

// testIDTokens checks the authorization list and local list versions.
func testIDTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1")
	for _, tok := range []store.IDToken{
		{Token: "AbC123", Type: "ISO14443", Status: "Accepted", GroupID: "FLEET", ExpiresAt: at(86400), UpdatedAt: at(0)},
		{Token: "abc123", Type: "eMAID", Status: "Blocked", UpdatedAt: at(0)},
		{Token: "K1", Type: "KeyCode", Status: "Accepted", UpdatedAt: at(0)},
	} {
		if err := s.PutIDToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, s.PutIDToken(ctx, store.IDToken{Type: "ISO14443"}), ocppd.EINVALID)
	got, err := s.GetIDToken(ctx, "ABC123", "ISO14443")
	if err != nil || got.Token != "AbC123" || got.Status != "Accepted" || got.GroupID != "FLEET" {
		t.Fatalf("GetIDToken ignoring case = %+v, %v", got, err)
	}
	checkTime(t, "ExpiresAt", got.ExpiresAt, at(86400))
	if got, err := s.GetIDToken(ctx, "abc123", "eMAID"); err != nil || got.Status != "Blocked" {
		t.Errorf("GetIDToken eMAID = %+v, %v", got, err)
	}
	if got, err := s.GetIDToken(ctx, "abc123", ""); err != nil || got.Type != "ISO14443" {
		t.Errorf("GetIDToken any type = %+v, %v; want the first type by name", got, err)
	}
	_, err = s.GetIDToken(ctx, "nope", "")
	wantCode(t, err, ocppd.ENOTFOUND)
	if err := s.PutIDToken(ctx, store.IDToken{Token: "K1", Type: "KeyCode", Status: "Invalid", UpdatedAt: at(5)}); err != nil {
		t.Fatal(err)
	}
	list, _ := s.ListIDTokens(ctx)
	if len(list) != 3 || list[2].Token != "K1" || list[2].Status != "Invalid" {
		t.Errorf("ListIDTokens = %+v", list)
	}
	if err := s.DeleteIDToken(ctx, "k1", "KeyCode"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.DeleteIDToken(ctx, "k1", "KeyCode"), ocppd.ENOTFOUND)

	if v, err := s.LocalListVersion(ctx, "CP1"); err != nil || v != 0 {
		t.Errorf("LocalListVersion before any = %d, %v", v, err)
	}
	if err := s.SetLocalListVersion(ctx, "CP1", 7, at(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLocalListVersion(ctx, "CP1", 8, at(2)); err != nil {
		t.Fatal(err)
	}
	if v, err := s.LocalListVersion(ctx, "CP1"); err != nil || v != 8 {
		t.Errorf("LocalListVersion = %d, %v", v, err)
	}
	wantCode(t, s.SetLocalListVersion(ctx, "NOPE", 1, at(1)), ocppd.ENOTFOUND)
	_, err = s.LocalListVersion(ctx, "NOPE")
	wantCode(t, err, ocppd.ENOTFOUND)
}

// testStationData checks the station policy, the event log and the device
// model, and that deleting a station removes all of it.
func testStationData(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1")
	p, err := s.GetStationPolicy(ctx, "CP1")
	if err != nil || p.Registration != ocppd.RegistrationAccepted || p.Lenient {
		t.Fatalf("GetStationPolicy = %+v, %v", p, err)
	}
	if err := s.SetLenient(ctx, "CP1", true); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.GetStationPolicy(ctx, "CP1"); !p.Lenient {
		t.Error("lenient flag not stored")
	}
	wantCode(t, s.SetLenient(ctx, "NOPE", true), ocppd.ENOTFOUND)
	_, err = s.GetStationPolicy(ctx, "NOPE")
	wantCode(t, err, ocppd.ENOTFOUND)

	for i, ev := range []store.StationEvent{
		{ChargePointID: "CP1", Action: "FirmwareStatusNotification", Status: "Downloading", Timestamp: at(10), Payload: json.RawMessage(`{"status":"Downloading"}`)},
		{ChargePointID: "CP1", Action: "FirmwareStatusNotification", Status: "Installed", Timestamp: at(30), Payload: json.RawMessage(`{"status":"Installed"}`)},
		{ChargePointID: "CP1", Action: "NotifyEvent", Timestamp: at(20), Payload: json.RawMessage(`{"seqNo":0}`)},
	} {
		if err := s.AddStationEvent(ctx, ev); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	wantCode(t, s.AddStationEvent(ctx, store.StationEvent{ChargePointID: "NOPE", Action: "X", Timestamp: at(0)}), ocppd.ENOTFOUND)
	evs, err := s.ListStationEvents(ctx, "CP1", "", 0)
	if err != nil || len(evs) != 3 || evs[0].Status != "Installed" || evs[1].Action != "NotifyEvent" {
		t.Fatalf("ListStationEvents = %+v, %v", evs, err)
	}
	fw, _ := s.ListStationEvents(ctx, "CP1", "FirmwareStatusNotification", 1)
	if len(fw) != 1 || fw[0].Status != "Installed" {
		t.Errorf("latest firmware status = %+v", fw)
	}
	wantJSON(t, "payload", fw[0].Payload, `{"status":"Installed"}`)

	one := 1
	vars := []store.DeviceVariable{
		{ChargePointID: "CP1", Component: "OCPPCommCtrlr", Variable: "HeartbeatInterval", Attributes: json.RawMessage(`[{"type":"Actual","value":"300"}]`),
			Characteristics: json.RawMessage(`{"dataType":"integer","supportsMonitoring":false}`), UpdatedAt: at(0)},
		{ChargePointID: "CP1", Component: "Connector", EVSE: &one, Connector: &one, Variable: "Available", Attributes: json.RawMessage(`[{"value":"true"}]`), UpdatedAt: at(0)},
	}
	if err := s.PutDeviceVariables(ctx, vars); err != nil {
		t.Fatal(err)
	}
	vars[0].Attributes = json.RawMessage(`[{"type":"Actual","value":"60"}]`)
	if err := s.PutDeviceVariables(ctx, vars[:1]); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.PutDeviceVariables(ctx, []store.DeviceVariable{{ChargePointID: "NOPE", Component: "C", Variable: "V"}}), ocppd.ENOTFOUND)
	dm, err := s.DeviceModel(ctx, "CP1")
	if err != nil || len(dm) != 2 {
		t.Fatalf("DeviceModel = %+v, %v", dm, err)
	}
	if dm[0].Component != "Connector" || dm[0].EVSE == nil || *dm[0].EVSE != 1 || dm[1].EVSE != nil {
		t.Errorf("device model order or EVSE = %+v", dm)
	}
	wantJSON(t, "attributes", dm[1].Attributes, `[{"type":"Actual","value":"60"}]`)
	wantJSON(t, "characteristics", dm[1].Characteristics, `{"dataType":"integer","supportsMonitoring":false}`)

	if err := s.DeleteChargePoint(ctx, "CP1"); err != nil {
		t.Fatal(err)
	}
	if evs, _ := s.ListStationEvents(ctx, "CP1", "", 0); len(evs) != 0 {
		t.Errorf("events survive the station: %v", evs)
	}
	if dm, _ := s.DeviceModel(ctx, "CP1"); len(dm) != 0 {
		t.Errorf("device model survives the station: %v", dm)
	}
}
