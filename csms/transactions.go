package csms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/v16"
	"github.com/ocppd/ocppd/ocpp/v201"
	"github.com/ocppd/ocppd/ocpp/v21"
	"github.com/ocppd/ocppd/store"
)

func init() {
	handle("StartTransaction", (*Service).startTransaction16, ocpp.V16)
	handle("StopTransaction", (*Service).stopTransaction16, ocpp.V16)
	handle("MeterValues", (*Service).meterValues16, ocpp.V16)
	handle("TransactionEvent", (*Service).transactionEvent, v2x...)
	handle("MeterValues", (*Service).meterValues2x, v2x...)
}

// Defaults of a SampledValue's optional fields (1.6 §7.43, 2.0.1
// SampledValueType): an energy register reading in Wh at the outlet.
const (
	energyRegister  = "Energy.Active.Import.Register"
	defaultUnit     = "Wh"
	defaultLocation = "Outlet"
	defaultContext  = "Sample.Periodic"
)

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// samples16 converts 1.6 meter values. A value in the SignedData format
// keeps the signed blob (as a JSON string) with value 0.
func samples16(cp string, connector int, mvs []v16.MeterValue, received time.Time) []store.MeterSample {
	var out []store.MeterSample
	for _, mv := range mvs {
		for _, sv := range mv.SampledValue {
			smp := store.MeterSample{
				ChargePointID: cp, Connector: connector, Timestamp: mv.Timestamp,
				Measurand: orDefault(string(sv.Measurand), energyRegister), Phase: string(sv.Phase),
				Unit: orDefault(string(sv.Unit), defaultUnit), Location: orDefault(string(sv.Location), defaultLocation),
				Context: orDefault(string(sv.Context), defaultContext), ReceivedAt: received,
			}
			if sv.Format == v16.ValueFormatSignedData {
				smp.Signed, _ = json.Marshal(sv.Value)
			} else if f, err := strconv.ParseFloat(sv.Value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				smp.Value = f
			} else {
				smp.Signed, _ = json.Marshal(sv.Value) // not a number: keep what was sent
			}
			out = append(out, smp)
		}
	}
	return out
}

// scaled applies a 2.x unitOfMeasure multiplier (a power of ten).
func scaled(v float64, mult *int) float64 {
	if mult == nil || *mult == 0 {
		return v
	}
	return v * math.Pow10(*mult)
}

// samples201 converts 2.0.1 meter values; values are stored with the
// unit's multiplier applied.
func samples201(cp string, evse int, mvs []v201.MeterValueType, received time.Time) []store.MeterSample {
	var out []store.MeterSample
	for _, mv := range mvs {
		for _, sv := range mv.SampledValue {
			smp := store.MeterSample{
				ChargePointID: cp, EVSE: evse, Timestamp: mv.Timestamp, Value: sv.Value,
				Measurand: orDefault(string(sv.Measurand), energyRegister), Phase: string(sv.Phase), Unit: defaultUnit,
				Location: orDefault(string(sv.Location), defaultLocation), Context: orDefault(string(sv.Context), defaultContext),
				ReceivedAt: received,
			}
			if u := sv.UnitOfMeasure; u != nil {
				smp.Unit, smp.Value = orDefault(u.Unit, defaultUnit), scaled(sv.Value, u.Multiplier)
			}
			if sv.SignedMeterValue != nil {
				smp.Signed, _ = json.Marshal(sv.SignedMeterValue)
			}
			out = append(out, smp)
		}
	}
	return out
}

// samples21 is samples201 for OCPP 2.1.
func samples21(cp string, evse int, mvs []v21.MeterValueType, received time.Time) []store.MeterSample {
	var out []store.MeterSample
	for _, mv := range mvs {
		for _, sv := range mv.SampledValue {
			smp := store.MeterSample{
				ChargePointID: cp, EVSE: evse, Timestamp: mv.Timestamp, Value: sv.Value,
				Measurand: orDefault(string(sv.Measurand), energyRegister), Phase: string(sv.Phase), Unit: defaultUnit,
				Location: orDefault(string(sv.Location), defaultLocation), Context: orDefault(string(sv.Context), defaultContext),
				ReceivedAt: received,
			}
			if u := sv.UnitOfMeasure; u != nil {
				smp.Unit, smp.Value = orDefault(u.Unit, defaultUnit), scaled(sv.Value, u.Multiplier)
			}
			if sv.SignedMeterValue != nil {
				smp.Signed, _ = json.Marshal(sv.SignedMeterValue)
			}
			out = append(out, smp)
		}
	}
	return out
}

// registerWh returns a sample's reading of the total imported energy in
// Wh, if it is one (any phase total: no phase, at the outlet or the EV).
func registerWh(s store.MeterSample) (float64, bool) {
	if s.Measurand != energyRegister || s.Phase != "" || len(s.Signed) > 0 && s.Value == 0 {
		return 0, false
	}
	switch s.Unit {
	case "Wh":
		return s.Value, true
	case "kWh":
		return s.Value * 1000, true
	}
	return 0, false
}

// noteMeter folds energy register readings into the transaction's start
// and stop readings, whatever order they arrive in (offline messages are
// delivered late): the earliest reading is the start, the latest the
// stop. It recomputes EnergyWh.
func noteMeter(t *store.Transaction, samples []store.MeterSample) {
	for _, s := range samples {
		wh, ok := registerWh(s)
		if !ok {
			continue
		}
		if t.MeterStartWh == nil || s.Timestamp.Before(t.MeterStartAt) {
			t.MeterStartWh, t.MeterStartAt = ptr(wh), s.Timestamp
		}
		if t.MeterStopWh == nil || !s.Timestamp.Before(t.MeterStopAt) {
			t.MeterStopWh, t.MeterStopAt = ptr(wh), s.Timestamp
		}
	}
	energy(t)
}

// energy sets EnergyWh from the start and stop readings.
func energy(t *store.Transaction) {
	if t.MeterStartWh != nil && t.MeterStopWh != nil && *t.MeterStopWh >= *t.MeterStartWh {
		t.EnergyWh = *t.MeterStopWh - *t.MeterStartWh
	}
}

func ptr[T any](v T) *T { return &v }

// noteEvent records that an event with timestamp ts was applied.
func noteEvent(t *store.Transaction, ts time.Time) {
	if t.StartedAt.IsZero() || ts.Before(t.StartedAt) {
		t.StartedAt = ts // no event of a transaction precedes its start
	}
	if ts.After(t.LastEventAt) {
		t.LastEventAt = ts
	}
}

// startTransaction16 handles a 1.6 StartTransaction: the CSMS assigns the
// transaction id. A retry of the same start (same connector, idTag and
// timestamp — 1.6 §4.10 lets a station repeat transaction messages) gets
// the same id. The idTag is authorized; a refused one is still given an id
// (1.6 §4.8: the Charge Point then stops the transaction).
func (s *Service) startTransaction16(ctx context.Context, r *Request) (any, error) {
	p := r.Msg.(*v16.StartTransactionRequest)
	res, err := s.authorizeToken(ctx, p.IDTag, "")
	if err != nil {
		return nil, err
	}
	tx, _, err := s.opts.Store.ApplyTransactionUpdate(ctx, store.TransactionUpdate{
		ChargePointID: r.ChargePointID,
		EventKey:      fmt.Sprintf("start:%d:%s:%d", p.ConnectorID, normToken(p.IDTag), p.Timestamp.UnixMilli()),
		Event:         r.Payload, EventType: "StartTransaction", Timestamp: p.Timestamp, At: r.Received,
		Apply: func(t *store.Transaction, found bool) error {
			t.Protocol, t.Connector, t.IDToken, t.ReservationID = string(r.Version), p.ConnectorID, p.IDTag, p.ReservationID
			noteEvent(t, p.Timestamp)
			t.MeterStartWh, t.MeterStartAt = ptr(float64(p.MeterStart)), p.Timestamp
			energy(t)
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	// H01: the reservation the transaction started with is used.
	if err := s.reservationUsed(ctx, r.ChargePointID, p.ReservationID, r.Received); err != nil {
		return nil, err
	}
	id, err := strconv.Atoi(tx.TransactionID)
	if err != nil {
		return nil, fmt.Errorf("transaction id %q is not a 1.6 integer: %w", tx.TransactionID, err)
	}
	return &v16.StartTransactionResponse{IDTagInfo: idTagInfo16(res), TransactionID: id}, nil
}

// stopTransaction16 handles a 1.6 StopTransaction. A transaction id the
// CSMS does not know (its start was lost) is still accepted and recorded
// as an ended transaction — the station would otherwise repeat the message
// (1.6 §4.10); one that belongs to another station is refused with
// SecurityError.
func (s *Service) stopTransaction16(ctx context.Context, r *Request) (any, error) {
	p := r.Msg.(*v16.StopTransactionRequest)
	txID := strconv.Itoa(p.TransactionID)
	samples := samples16(r.ChargePointID, 0, p.TransactionData, r.Received)
	_, _, err := s.opts.Store.ApplyTransactionUpdate(ctx, store.TransactionUpdate{
		ChargePointID: r.ChargePointID, TransactionID: txID, EventKey: "stop:" + txID,
		Event: r.Payload, EventType: "StopTransaction", Timestamp: p.Timestamp, At: r.Received, Samples: samples,
		Apply: func(t *store.Transaction, found bool) error {
			if t.Protocol == "" {
				t.Protocol = string(r.Version)
			}
			for i := range samples {
				samples[i].Connector = t.Connector
			}
			noteMeter(t, samples)
			noteEvent(t, p.Timestamp)
			t.State, t.EndedAt = store.TransactionEnded, p.Timestamp
			t.MeterStopWh, t.MeterStopAt = ptr(float64(p.MeterStop)), p.Timestamp
			energy(t)
			t.StopReason = orDefault(string(p.Reason), "Local")
			if p.IDTag != "" && normToken(p.IDTag) != normToken(t.IDToken) {
				t.StopIDToken = p.IDTag
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	resp := &v16.StopTransactionResponse{}
	if p.IDTag != "" {
		res, err := s.authorizeToken(ctx, p.IDTag, "")
		if err != nil {
			return nil, err
		}
		info := idTagInfo16(res)
		resp.IDTagInfo = &info
	}
	return resp, nil
}

// meterValues16 stores 1.6 MeterValues in the time series. Values that
// name a transaction the station owns also update it like a 2.x
// TransactionEvent Updated does (J02, 1.6 §4.7): its latest energy
// register reading, energy so far and last event time, in the same
// database transaction as the samples; the message is logged with the
// key meter:{sha256 of the payload}, so a redelivery changes nothing.
// Values naming a transaction the CSMS does not know are stored without a
// row (no row is made up from meter values alone); a transaction of
// another station is refused with SecurityError. Samples are idempotent
// on their identity (store.MeterSample), so a repeated MeterValues adds
// none.
func (s *Service) meterValues16(ctx context.Context, r *Request) (any, error) {
	p := r.Msg.(*v16.MeterValuesRequest)
	samples := samples16(r.ChargePointID, p.ConnectorID, p.MeterValue, r.Received)
	if p.TransactionID != nil && len(samples) > 0 {
		txID := strconv.Itoa(*p.TransactionID)
		for i := range samples {
			samples[i].TransactionID = txID
		}
		sum := sha256.Sum256(r.Payload)
		latest := samples[0].Timestamp
		for _, smp := range samples {
			if smp.Timestamp.After(latest) {
				latest = smp.Timestamp
			}
		}
		_, _, err := s.opts.Store.ApplyTransactionUpdate(ctx, store.TransactionUpdate{
			ChargePointID: r.ChargePointID, TransactionID: txID, EventKey: "meter:" + hex.EncodeToString(sum[:16]),
			Event: r.Payload, EventType: "MeterValues", Timestamp: latest, At: r.Received, Samples: samples,
			Apply: func(t *store.Transaction, found bool) error {
				if !found {
					return errUnknownTransaction
				}
				if t.State == store.TransactionEnded {
					return nil // the stop reading is final
				}
				noteMeter(t, samples)
				noteEvent(t, latest)
				return nil
			},
		})
		if !errors.Is(err, errUnknownTransaction) {
			if err != nil {
				return nil, err
			}
			return &v16.MeterValuesResponse{}, nil
		}
	}
	// The hot path outside transactions: one group-committed write, no
	// read.
	if err := s.opts.Store.AddMeterSamples(ctx, samples); err != nil {
		return nil, err
	}
	return &v16.MeterValuesResponse{}, nil
}

// errUnknownTransaction aborts a transaction update for meter values of a
// transaction the CSMS has no row of.
var errUnknownTransaction = errors.New("unknown transaction")

// meterValues2x stores 2.x MeterValues (outside transactions: inside one
// they come in TransactionEvent).
func (s *Service) meterValues2x(ctx context.Context, r *Request) (any, error) {
	var (
		samples []store.MeterSample
		resp    any
	)
	switch p := r.Msg.(type) {
	case *v201.MeterValuesRequest:
		samples, resp = samples201(r.ChargePointID, p.EvseID, p.MeterValue, r.Received), &v201.MeterValuesResponse{}
	case *v21.MeterValuesRequest:
		samples, resp = samples21(r.ChargePointID, p.EvseID, p.MeterValue, r.Received), &v21.MeterValuesResponse{}
	}
	if err := s.opts.Store.AddMeterSamples(ctx, samples); err != nil {
		return nil, err
	}
	return resp, nil
}

// txEvent is a 2.x TransactionEvent in version-neutral form.
type txEvent struct {
	eventType, trigger    string
	ts                    time.Time
	seqNo                 int
	txID, chargingState   string
	stoppedReason         string
	remoteStartID, resvID *int
	evse                  *int
	connector             *int
	token, tokenType      string
	samples               []store.MeterSample
	offline               bool
}

func txEvent201(cp string, p *v201.TransactionEventRequest, received time.Time) txEvent {
	ev := txEvent{eventType: string(p.EventType), trigger: string(p.TriggerReason), ts: p.Timestamp, seqNo: p.SeqNo,
		txID: p.TransactionInfo.TransactionID, chargingState: string(p.TransactionInfo.ChargingState),
		stoppedReason: string(p.TransactionInfo.StoppedReason), remoteStartID: p.TransactionInfo.RemoteStartID,
		resvID: p.ReservationID, offline: p.Offline != nil && *p.Offline}
	evse := 0
	if p.Evse != nil {
		ev.evse, ev.connector, evse = &p.Evse.ID, p.Evse.ConnectorID, p.Evse.ID
	}
	if p.IDToken != nil {
		ev.token, ev.tokenType = p.IDToken.IDToken, string(p.IDToken.Type)
	}
	ev.samples = samples201(cp, evse, p.MeterValue, received)
	return ev
}

func txEvent21(cp string, p *v21.TransactionEventRequest, received time.Time) txEvent {
	ev := txEvent{eventType: string(p.EventType), trigger: string(p.TriggerReason), ts: p.Timestamp, seqNo: p.SeqNo,
		txID: p.TransactionInfo.TransactionID, chargingState: string(p.TransactionInfo.ChargingState),
		stoppedReason: string(p.TransactionInfo.StoppedReason), remoteStartID: p.TransactionInfo.RemoteStartID,
		resvID: p.ReservationID, offline: p.Offline != nil && *p.Offline}
	evse := 0
	if p.Evse != nil {
		ev.evse, ev.connector, evse = &p.Evse.ID, p.Evse.ConnectorID, p.Evse.ID
	}
	if p.IDToken != nil {
		ev.token, ev.tokenType = p.IDToken.IDToken, p.IDToken.Type
	}
	ev.samples = samples21(cp, evse, p.MeterValue, received)
	return ev
}

// transactionEvent handles a 2.x TransactionEvent (E01–E15). It is
// idempotent on (station, transactionId, seqNo): a redelivered event is
// answered again but applied once. Events may arrive out of order (queued
// offline, E12, E13): the start time is the earliest event's, readings are
// ordered by their timestamps, and only an Ended event ends the
// transaction. Updated or Ended events of a transaction the CSMS never saw
// start are accepted and create it (never a CALLERROR the station would
// repeat); events about another station's transaction are refused with
// SecurityError.
func (s *Service) transactionEvent(ctx context.Context, r *Request) (any, error) {
	var ev txEvent
	switch p := r.Msg.(type) {
	case *v201.TransactionEventRequest:
		ev = txEvent201(r.ChargePointID, p, r.Received)
	case *v21.TransactionEventRequest:
		ev = txEvent21(r.ChargePointID, p, r.Received)
	}
	_, _, err := s.opts.Store.ApplyTransactionUpdate(ctx, store.TransactionUpdate{
		ChargePointID: r.ChargePointID, TransactionID: ev.txID, EventKey: fmt.Sprintf("%s#%d", ev.txID, ev.seqNo),
		Event: r.Payload, EventType: ev.eventType, Timestamp: ev.ts, At: r.Received, Samples: ev.samples,
		Apply: func(t *store.Transaction, found bool) error {
			t.Protocol = string(r.Version)
			latest := !ev.ts.Before(t.LastEventAt)
			if ev.evse != nil && (t.EVSE == 0 || latest) {
				t.EVSE = *ev.evse
			}
			if ev.connector != nil && (t.Connector == 0 || latest) {
				t.Connector = *ev.connector
			}
			if ev.token != "" {
				switch {
				case t.IDToken == "" || ev.eventType == "Started":
					t.IDToken, t.IDTokenType = ev.token, ev.tokenType
				case normToken(ev.token) != normToken(t.IDToken):
					t.StopIDToken = ev.token // E06/E07: stopped by another token
				}
			}
			if ev.chargingState != "" && latest {
				t.ChargingState = ev.chargingState
			}
			if ev.remoteStartID != nil {
				t.RemoteStartID = ev.remoteStartID
			}
			if ev.resvID != nil {
				t.ReservationID = ev.resvID
			}
			noteEvent(t, ev.ts)
			if ev.seqNo > t.LastSeqNo {
				t.LastSeqNo = ev.seqNo
			}
			for i := range ev.samples { // stored after Apply returns
				ev.samples[i].EVSE, ev.samples[i].Connector = t.EVSE, t.Connector
			}
			noteMeter(t, ev.samples)
			if ev.eventType == "Ended" {
				// stoppedReason MAY be omitted only when it is Local.
				t.State, t.EndedAt, t.StopReason = store.TransactionEnded, ev.ts, orDefault(ev.stoppedReason, "Local")
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	// H01: the reservation the transaction started with is used.
	if err := s.reservationUsed(ctx, r.ChargePointID, ev.resvID, r.Received); err != nil {
		return nil, err
	}
	// E01.FR.xx / C03: an idToken in the event is authorized and the
	// verdict returned in idTokenInfo.
	var res *authResult
	if ev.token != "" {
		a, err := s.authorizeToken(ctx, ev.token, ev.tokenType)
		if err != nil {
			return nil, err
		}
		res = &a
	}
	if r.Version == ocpp.V201 {
		resp := &v201.TransactionEventResponse{}
		if res != nil {
			info := idTokenInfo201(*res)
			resp.IDTokenInfo = &info
		}
		return resp, nil
	}
	resp := &v21.TransactionEventResponse{}
	if res != nil {
		info := idTokenInfo21(*res)
		resp.IDTokenInfo = &info
	}
	return resp, nil
}
