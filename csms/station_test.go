package csms

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/message"
	"github.com/ocppd/ocppd/ocpp/v16"
	"github.com/ocppd/ocppd/ocpp/v201"
	"github.com/ocppd/ocppd/ocpp/v21"
	"github.com/ocppd/ocppd/store"
)

type m = map[string]any

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func (e *env) putToken(token, typ, status string) {
	e.t.Helper()
	if err := e.db.PutIDToken(context.Background(), store.IDToken{Token: token, Type: typ, Status: status, GroupID: "FLEET"}); err != nil {
		e.t.Fatal(err)
	}
}

func TestBootStates(t *testing.T) {
	for _, v := range []ocpp.Version{ocpp.V16, ocpp.V201, ocpp.V21} {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t)
			e.addCP("PEND", ocppd.RegistrationPending, v)
			e.addCP("REJ", ocppd.RegistrationRejected, v)
			boot := m{"chargePointVendor": "V", "chargePointModel": "M"}
			status := m{"connectorId": 1, "errorCode": "NoError", "status": "Available"}
			if v != ocpp.V16 {
				boot = m{"reason": "PowerUp", "chargingStation": m{"vendorName": "V", "model": "M"}}
				status = m{"timestamp": ts(e.clock.Now()), "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
			}
			for _, id := range []string{"PEND", "REJ"} {
				st := e.station(id, v)
				var resp struct {
					Status   string `json:"status"`
					Interval int    `json:"interval"`
				}
				st.call("BootNotification", boot, &resp)
				want := map[string]string{"PEND": "Pending", "REJ": "Rejected"}[id]
				if resp.Status != want || resp.Interval != 60 {
					t.Errorf("%s boot = %+v, want %s with the retry interval", id, resp, want)
				}
				st.callError("Heartbeat", m{}, "SecurityError")
				st.callError("StatusNotification", status, "SecurityError")
			}
			// A Pending station may send what TriggerMessage asked for
			// (B02.FR.09).
			trig := any(&v16.TriggerMessageRequest{RequestedMessage: v16.MessageTriggerStatusNotification})
			if v == ocpp.V201 {
				trig = &v201.TriggerMessageRequest{RequestedMessage: v201.MessageTriggerEnumTypeStatusNotification}
			}
			if v == ocpp.V21 {
				trig = json.RawMessage(`{"requestedMessage":"StatusNotification"}`)
			}
			if _, err := e.svc.Send(context.Background(), "PEND", "TriggerMessage", trig); err != nil {
				t.Fatal(err)
			}
			st := e.station("PEND", v)
			st.call("StatusNotification", status, nil)
			st.callError("Heartbeat", m{}, "SecurityError")
			// Once accepted — which the station learns at its next
			// BootNotification (B02.FR.01) — everything goes.
			if err := e.db.SetRegistration(context.Background(), "PEND", ocppd.RegistrationAccepted); err != nil {
				t.Fatal(err)
			}
			var resp struct {
				Status string `json:"status"`
			}
			st.call("BootNotification", boot, &resp)
			if resp.Status != "Accepted" {
				t.Fatalf("boot after acceptance = %q", resp.Status)
			}
			st.call("Heartbeat", m{}, nil)
		})
	}
}

func TestSession16(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V16)
	e.addCP("CP2", ocppd.RegistrationAccepted, ocpp.V16)
	e.putToken("TAG-1", "ISO14443", "Accepted")
	st := e.station("CP1", ocpp.V16)
	ctx := context.Background()
	t0 := e.clock.Now()

	var auth v16.AuthorizeResponse
	st.call("Authorize", m{"idTag": "tag-1"}, &auth)
	if auth.IDTagInfo.Status != "Accepted" || auth.IDTagInfo.ParentIDTag != "FLEET" {
		t.Errorf("Authorize = %+v", auth)
	}
	st.call("Authorize", m{"idTag": "stranger"}, &auth)
	if auth.IDTagInfo.Status != "Invalid" {
		t.Errorf("Authorize unknown = %+v", auth)
	}

	start := m{"connectorId": 1, "idTag": "TAG-1", "meterStart": 1000, "timestamp": ts(t0)}
	var started, again v16.StartTransactionResponse
	st.call("StartTransaction", start, &started)
	st.call("StartTransaction", start, &again) // a retry: same id, one row
	if started.TransactionID == 0 || again.TransactionID != started.TransactionID || started.IDTagInfo.Status != "Accepted" {
		t.Fatalf("starts = %+v, %+v", started, again)
	}
	txID := strconv.Itoa(started.TransactionID)
	st.call("MeterValues", m{"connectorId": 1, "transactionId": started.TransactionID, "meterValue": []m{{
		"timestamp": ts(t0.Add(30 * time.Minute)), "sampledValue": []m{
			{"value": "4000"}, {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
			{"value": "230.1", "measurand": "Voltage", "phase": "L1-N", "unit": "V", "location": "Inlet"},
		}}}}, nil)
	stop := m{"transactionId": started.TransactionID, "idTag": "TAG-1", "meterStop": 8500, "timestamp": ts(t0.Add(time.Hour)),
		"reason": "EVDisconnected", "transactionData": []m{{"timestamp": ts(t0.Add(time.Hour)), "sampledValue": []m{
			{"value": "8500", "context": "Transaction.End"}}}}}
	var stopped v16.StopTransactionResponse
	st.call("StopTransaction", stop, &stopped)
	st.call("StopTransaction", stop, &stopped) // a retry
	if stopped.IDTagInfo == nil || stopped.IDTagInfo.Status != "Accepted" {
		t.Errorf("StopTransaction = %+v", stopped)
	}

	txs, _ := e.db.ListTransactions(ctx, store.TransactionFilter{ChargePointID: "CP1"})
	if len(txs) != 1 {
		t.Fatalf("%d transactions, want 1: %+v", len(txs), txs)
	}
	tx := txs[0]
	if tx.TransactionID != txID || tx.State != store.TransactionEnded || tx.EnergyWh != 7500 || tx.Duration() != time.Hour ||
		tx.StopReason != "EVDisconnected" || tx.IDToken != "TAG-1" || tx.Connector != 1 || tx.Protocol != "ocpp1.6" {
		t.Errorf("transaction = %+v", tx)
	}
	samples, _ := e.db.ListMeterSamples(ctx, store.MeterFilter{ChargePointID: "CP1", TransactionID: txID})
	if len(samples) != 4 {
		t.Fatalf("%d samples, want 4 (3 periodic + 1 at the end, the retry not twice): %+v", len(samples), samples)
	}
	if s := samples[2]; s.Measurand != "Voltage" || s.Phase != "L1-N" || s.Unit != "V" || s.Location != "Inlet" || s.Value != 230.1 {
		t.Errorf("voltage sample = %+v", s)
	}
	if s := samples[0]; s.Measurand != energyRegister || s.Unit != "Wh" || s.Context != "Sample.Periodic" || s.Location != "Outlet" {
		t.Errorf("defaults not filled in: %+v", s)
	}

	// Another station stopping CP1's transaction is refused; an unknown
	// id is accepted (its start was lost) and recorded.
	other := e.station("CP2", ocpp.V16)
	other.callError("StopTransaction", m{"transactionId": started.TransactionID, "meterStop": 1, "timestamp": ts(t0)}, "SecurityError")
	other.call("StopTransaction", m{"transactionId": 987654, "meterStop": 500, "timestamp": ts(t0)}, &stopped)
	if stopped.IDTagInfo != nil {
		t.Errorf("StopTransaction without idTag answered idTagInfo %+v", stopped.IDTagInfo)
	}
	if tx, err := e.db.GetTransaction(ctx, "CP2", "987654"); err != nil || tx.State != store.TransactionEnded {
		t.Errorf("unknown transaction recorded as %+v, %v", tx, err)
	}
	if tx, _ := e.db.GetTransaction(ctx, "CP1", txID); tx.EnergyWh != 7500 {
		t.Errorf("foreign stop changed the transaction: %+v", tx)
	}
}

func txEventPayload(eventType, txID string, seq int, at time.Time, extra m) m {
	p := m{"eventType": eventType, "timestamp": ts(at), "triggerReason": "Authorized", "seqNo": seq,
		"transactionInfo": m{"transactionId": txID}}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

func energyMV(at time.Time, wh float64, ctx string) []m {
	return []m{{"timestamp": ts(at), "sampledValue": []m{{"value": wh, "context": ctx, "measurand": energyRegister,
		"unitOfMeasure": m{"unit": "kWh", "multiplier": -3}}}}}
}

func TestSession2x(t *testing.T) {
	for _, v := range []ocpp.Version{ocpp.V201, ocpp.V21} {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t)
			e.addCP("CP1", ocppd.RegistrationAccepted, v)
			e.addCP("CP2", ocppd.RegistrationAccepted, v)
			e.putToken("AABBCC", "ISO14443", "Accepted")
			st := e.station("CP1", v)
			ctx := context.Background()
			t0 := e.clock.Now()
			token := m{"idToken": "aabbcc", "type": "ISO14443"}

			var resp struct {
				IDTokenInfo *struct {
					Status string `json:"status"`
				} `json:"idTokenInfo"`
			}
			started := txEventPayload("Started", "tx-1", 0, t0, m{"idToken": token, "evse": m{"id": 1, "connectorId": 1},
				"meterValue": energyMV(t0, 1000, "Transaction.Begin"), "transactionInfo": m{"transactionId": "tx-1", "chargingState": "Charging"}})
			st.call("TransactionEvent", started, &resp)
			if resp.IDTokenInfo == nil || resp.IDTokenInfo.Status != "Accepted" {
				t.Errorf("Started answered %+v", resp)
			}
			st.call("TransactionEvent", started, nil) // redelivered
			// Offline: the Ended event arrives before the Updated one.
			ended := txEventPayload("Ended", "tx-1", 2, t0.Add(2*time.Hour), m{"offline": true, "triggerReason": "EVCommunicationLost",
				"meterValue":      energyMV(t0.Add(2*time.Hour), 9000, "Transaction.End"),
				"transactionInfo": m{"transactionId": "tx-1", "stoppedReason": "EVDisconnected", "chargingState": "Idle"}})
			resp.IDTokenInfo = nil
			st.call("TransactionEvent", ended, &resp)
			if resp.IDTokenInfo != nil {
				t.Errorf("Ended without idToken answered idTokenInfo")
			}
			updated := txEventPayload("Updated", "tx-1", 1, t0.Add(time.Hour), m{"offline": true, "triggerReason": "MeterValuePeriodic",
				"meterValue":      energyMV(t0.Add(time.Hour), 5000, "Sample.Periodic"),
				"transactionInfo": m{"transactionId": "tx-1", "chargingState": "SuspendedEV"}})
			st.call("TransactionEvent", updated, nil)
			st.call("TransactionEvent", updated, nil)

			tx, err := e.db.GetTransaction(ctx, "CP1", "tx-1")
			if err != nil {
				t.Fatal(err)
			}
			if tx.State != store.TransactionEnded || tx.EnergyWh != 8000 || tx.Duration() != 2*time.Hour || tx.StopReason != "EVDisconnected" ||
				tx.EVSE != 1 || tx.Connector != 1 || tx.IDToken != "aabbcc" || tx.LastSeqNo != 2 || tx.ChargingState != "Idle" {
				t.Errorf("transaction = %+v", tx)
			}
			samples, _ := e.db.ListMeterSamples(ctx, store.MeterFilter{ChargePointID: "CP1", TransactionID: "tx-1"})
			// Values are stored with the multiplier applied: 5000 kWh×10⁻³.
			if len(samples) != 3 || samples[1].Value != 5 || samples[1].Unit != "kWh" || samples[2].EVSE != 1 || samples[2].Connector != 1 {
				t.Errorf("samples = %+v", samples)
			}

			// Updated for a transaction never seen started: accepted,
			// created. An event for CP1's transaction from CP2: refused.
			st.call("TransactionEvent", txEventPayload("Updated", "tx-lost", 7, t0, m{"triggerReason": "MeterValuePeriodic"}), nil)
			if tx, err := e.db.GetTransaction(ctx, "CP1", "tx-lost"); err != nil || tx.State != store.TransactionActive {
				t.Errorf("unknown transaction = %+v, %v", tx, err)
			}
			e.station("CP2", v).callError("TransactionEvent", txEventPayload("Ended", "tx-1", 9, t0, nil), "SecurityError")

			// MeterValues outside transactions.
			st.call("MeterValues", m{"evseId": 0, "meterValue": []m{{"timestamp": ts(t0), "sampledValue": []m{
				{"value": 11.5, "measurand": "Current.Import", "phase": "L2", "unitOfMeasure": m{"unit": "A"},
					"signedMeterValue": m{"signedMeterData": "ZGF0YQ==", "signingMethod": "ECDSA", "encodingMethod": "OCMF", "publicKey": "a2V5"}}}}}}, nil)
			all, _ := e.db.ListMeterSamples(ctx, store.MeterFilter{ChargePointID: "CP1", Measurand: "Current.Import"})
			if len(all) != 1 || all[0].TransactionID != "" || all[0].Phase != "L2" || len(all[0].Signed) == 0 {
				t.Errorf("sample outside a transaction = %+v", all)
			}
		})
	}
}

// failingStore fails the chosen writes.
type failingStore struct {
	store.Store
	fail bool
}

var errDisk = errors.New("disk on fire")

func (f *failingStore) ApplyTransactionUpdate(ctx context.Context, u store.TransactionUpdate) (store.Transaction, bool, error) {
	if f.fail {
		return store.Transaction{}, false, errDisk
	}
	return f.Store.ApplyTransactionUpdate(ctx, u)
}

func (f *failingStore) AddMeterSamples(ctx context.Context, s []store.MeterSample) error {
	if f.fail {
		return errDisk
	}
	return f.Store.AddMeterSamples(ctx, s)
}

func (f *failingStore) AddStationEvent(ctx context.Context, ev store.StationEvent) error {
	if f.fail {
		return errDisk
	}
	return f.Store.AddStationEvent(ctx, ev)
}

func (f *failingStore) MarkSeen(ctx context.Context, id string, t time.Time) error {
	if f.fail {
		return errDisk
	}
	return f.Store.MarkSeen(ctx, id, t)
}

// TestStoreFailureIsCallError: persist, then answer — a write that fails
// is a CALLERROR InternalError, never a CALLRESULT, and nothing is stored.
func TestStoreFailureIsCallError(t *testing.T) {
	fs := &failingStore{fail: true}
	e := newEnv(t, func(o *Options) { fs.Store = o.Store; o.Store = fs })
	e.addCP("CP16", ocppd.RegistrationAccepted, ocpp.V16)
	e.addCP("CP2", ocppd.RegistrationAccepted, ocpp.V201)
	t0 := e.clock.Now()
	st := e.station("CP16", ocpp.V16)
	start := m{"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": ts(t0)}
	f := st.callError("StartTransaction", start, "InternalError")
	if f.ErrorDescription == "" || f.ErrorDescription == errDisk.Error() {
		t.Errorf("description %q: want a generic one, not internals", f.ErrorDescription)
	}
	st.callError("MeterValues", m{"connectorId": 1, "meterValue": []m{{"timestamp": ts(t0), "sampledValue": []m{{"value": "1"}}}}}, "InternalError")
	st.callError("Heartbeat", m{}, "InternalError")
	st.callError("FirmwareStatusNotification", m{"status": "Downloading"}, "InternalError")
	st2 := e.station("CP2", ocpp.V201)
	st2.callError("TransactionEvent", txEventPayload("Started", "x", 0, t0, nil), "InternalError")
	ctx := context.Background()
	if txs, _ := e.db.ListTransactions(ctx, store.TransactionFilter{}); len(txs) != 0 {
		t.Errorf("transactions stored despite the failure: %+v", txs)
	}
	// The station retries once the store is back: one row.
	fs.fail = false
	var resp v16.StartTransactionResponse
	st.call("StartTransaction", start, &resp)
	if txs, _ := e.db.ListTransactions(ctx, store.TransactionFilter{}); len(txs) != 1 {
		t.Errorf("after the retry: %d transactions", len(txs))
	}
}

func TestLenientStation(t *testing.T) {
	e := newEnv(t)
	e.addCP("STRICT", ocppd.RegistrationAccepted, ocpp.V201)
	e.addCP("SLOPPY", ocppd.RegistrationAccepted, ocpp.V201)
	if err := e.db.SetLenient(context.Background(), "SLOPPY", true); err != nil {
		t.Fatal(err)
	}
	p := m{"timestamp": ts(e.clock.Now()), "connectorStatus": "Charging", "evseId": 1, "connectorId": 1, "vendorExtra": 1}
	e.station("STRICT", ocpp.V201).callError("StatusNotification", p, "PropertyConstraintViolation")
	e.station("SLOPPY", ocpp.V201).call("StatusNotification", p, nil)
	if e.svc.Stats().LenientWarnings < 2 {
		t.Errorf("lenient warnings = %d, want ≥ 2 (enum value, extra property)", e.svc.Stats().LenientWarnings)
	}
	cur, _ := e.db.CurrentStatus(context.Background(), "SLOPPY")
	if len(cur) != 1 || cur[0].Status != "Charging" {
		t.Errorf("status = %+v", cur)
	}
}

func TestNotificationsStored(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP16", ocppd.RegistrationAccepted, ocpp.V16)
	e.addCP("CP2", ocppd.RegistrationAccepted, ocpp.V201)
	e.addCP("CP21", ocppd.RegistrationAccepted, ocpp.V21)
	ctx := context.Background()
	now := ts(e.clock.Now())
	st16, st2, st21 := e.station("CP16", ocpp.V16), e.station("CP2", ocpp.V201), e.station("CP21", ocpp.V21)

	st16.call("FirmwareStatusNotification", m{"status": "Downloading"}, nil)
	st16.call("DiagnosticsStatusNotification", m{"status": "Uploaded"}, nil)
	st2.call("FirmwareStatusNotification", m{"status": "Installed", "requestId": 3}, nil)
	st2.call("LogStatusNotification", m{"status": "Uploaded", "requestId": 4}, nil)
	st2.call("NotifyEvent", m{"generatedAt": now, "seqNo": 0, "eventData": []m{{"eventId": 1, "timestamp": now, "trigger": "Alerting",
		"actualValue": "true", "eventNotificationType": "HardWiredNotification", "component": m{"name": "Door"}, "variable": m{"name": "Open"}}}}, nil)
	st2.call("ReservationStatusUpdate", m{"reservationId": 5, "reservationUpdateStatus": "Expired"}, nil)
	var needs struct{ Status string }
	st2.call("NotifyEVChargingNeeds", m{"evseId": 1, "chargingNeeds": m{"requestedEnergyTransfer": "DC"}}, &needs)
	st2.call("SecurityEventNotification", m{"type": "TamperDetectionActivated", "timestamp": now, "techInfo": "lid"}, nil)
	st21.call("VatNumberValidation", m{"vatNumber": "NL123"}, nil)
	st21.call("NotifySettlement", m{"pspRef": "p", "status": "Settled", "settlementAmount": 1.5, "settlementTime": now}, nil)

	evs, _ := e.db.ListStationEvents(ctx, "CP2", "", 0)
	if len(evs) != 5 {
		t.Errorf("CP2 logged %d events: %+v", len(evs), evs)
	}
	fw, _ := e.db.ListStationEvents(ctx, "CP16", "FirmwareStatusNotification", 1)
	if len(fw) != 1 || fw[0].Status != "Downloading" {
		t.Errorf("1.6 firmware status = %+v", fw)
	}
	sec, err := e.db.ListSecurityEvents(ctx, "CP2", 0)
	if err != nil || len(sec) != 1 || sec[0].Type != "TamperDetectionActivated" || sec[0].TechInfo != "lid" {
		t.Errorf("security events = %+v, %v", sec, err)
	}

	// DataTransfer: UnknownVendorId by default, the vendor's handler
	// otherwise.
	var dt struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	st2.call("DataTransfer", m{"vendorId": "acme", "messageId": "ping", "data": m{"n": 1}}, &dt)
	if dt.Status != "UnknownVendorId" {
		t.Errorf("DataTransfer without a vendor handler = %+v", dt)
	}
	e.svc.HandleDataTransfer("acme", func(_ context.Context, cp, msgID string, data json.RawMessage) (string, json.RawMessage, error) {
		return "Accepted", json.RawMessage(`"pong:` + cp + `:` + msgID + `"`), nil
	})
	st16.call("DataTransfer", m{"vendorId": "acme", "messageId": "ping", "data": "x"}, &dt)
	if dt.Status != "Accepted" || string(dt.Data) != `"pong:CP16:ping"` {
		t.Errorf("DataTransfer with a vendor handler = %+v (%s)", dt, dt.Data)
	}

	// NotifyReport fills the device model.
	st2.call("NotifyReport", m{"requestId": 1, "generatedAt": now, "seqNo": 0, "reportData": []m{
		{"component": m{"name": "OCPPCommCtrlr"}, "variable": m{"name": "HeartbeatInterval"},
			"variableAttribute":       []m{{"type": "Actual", "value": "300", "mutability": "ReadWrite"}},
			"variableCharacteristics": m{"dataType": "integer", "supportsMonitoring": false, "unit": "s"}},
		{"component": m{"name": "EVSE", "evse": m{"id": 1}}, "variable": m{"name": "Power"},
			"variableAttribute": []m{{"value": "22000", "mutability": "ReadOnly"}}},
	}}, nil)
	dm, _ := e.db.DeviceModel(ctx, "CP2")
	if len(dm) != 2 || dm[0].Component != "EVSE" || dm[0].EVSE == nil || dm[1].Variable != "HeartbeatInterval" {
		t.Errorf("device model = %+v", dm)
	}
}

// TestEveryLoggedResponseValidates checks the fixed and empty answers of
// every logged action against the schema.
func TestEveryLoggedResponseValidates(t *testing.T) {
	for v, actions := range logged {
		for _, a := range actions {
			var resp any
			var err error
			if a == "VatNumberValidation" {
				resp = fixedResponse(v, a, &v21VatReq)
			} else if resp = fixedResponse(v, a, nil); resp == nil {
				resp, err = emptyResponse(v, a)
			}
			if err != nil {
				t.Errorf("%s %s: %v", v, a, err)
				continue
			}
			if err := message.Validate(v, resp); err != nil {
				t.Errorf("%s %s response %+v: %v", v, a, resp, err)
			}
		}
	}
}

func TestLocalListTracked(t *testing.T) {
	e := newEnv(t)
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V201)
	st := e.station("CP1", ocpp.V201)
	ctx := context.Background()
	c, err := e.svc.Send(ctx, "CP1", "", &v201.SendLocalListRequest{VersionNumber: 42, UpdateType: v201.UpdateEnumTypeFull,
		LocalAuthorizationList: []v201.AuthorizationData{{IDToken: v201.IdTokenType{IDToken: "AABB", Type: v201.IdTokenEnumTypeISO14443},
			IDTokenInfo: &v201.IdTokenInfoType{Status: v201.AuthorizationStatusEnumTypeAccepted}}}})
	if err != nil {
		t.Fatal(err)
	}
	f := st.next()
	st.publish(ocpp.AppendCallResult(nil, f.ID, json.RawMessage(`{"status":"Accepted"}`)))
	if _, err := e.svc.Wait(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "local list version 42", func() bool {
		v, _ := e.db.LocalListVersion(ctx, "CP1")
		return v == 42
	})
	c, _ = e.svc.Send(ctx, "CP1", "", &v201.GetLocalListVersionRequest{})
	f = st.next()
	st.publish(ocpp.AppendCallResult(nil, f.ID, json.RawMessage(`{"versionNumber":7}`)))
	e.svc.Wait(ctx, c.ID)
	eventually(t, "local list version 7", func() bool {
		v, _ := e.db.LocalListVersion(ctx, "CP1")
		return v == 7
	})
}

var v21VatReq = v21.VatNumberValidationRequest{VatNumber: "NL123"}
