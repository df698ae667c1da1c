package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ocppd/ocppd/ocpp/v16"
	"github.com/ocppd/ocppd/ocpp/v201"
)

// ErrNotAuthorized is wrapped when the CSMS (or, offline, the local list
// and the authorization cache) does not accept an id token.
var ErrNotAuthorized = errors.New("id token not authorized")

// ErrBusy is wrapped when a connector cannot start a transaction: one is
// running, or it is unavailable, or reserved for another token.
var ErrBusy = errors.New("connector busy")

// Stop reasons, in OCPP 1.6 words (2.x uses the same ones for
// stoppedReason, plus more).
const (
	ReasonLocal         = "Local"
	ReasonRemote        = "Remote"
	ReasonDeAuthorized  = "DeAuthorized"
	ReasonHardReset     = "HardReset"
	ReasonSoftReset     = "SoftReset"
	ReasonUnlockCommand = "UnlockCommand"
	ReasonEVDisconnect  = "EVDisconnected"
)

// ts is the station's clock in UTC, to the millisecond.
func (c *Charger) ts() time.Time { return c.now().UTC().Truncate(time.Millisecond) }

// Authorize asks the CSMS whether idTag may charge and returns the status
// (Accepted, Blocked, Invalid…). Offline it answers from the local
// authorization list and the authorization cache (OCPP 1.6 §3.5,
// 2.0.1 C12–C14), and accepts an unknown tag when
// AllowOfflineTxForUnknownId / OfflineTxForUnknownIdEnabled is true.
func (c *Charger) Authorize(ctx context.Context, idTag string) (string, error) {
	if idTag == "" {
		idTag = c.co.IDTag
	}
	if !c.Online() {
		return c.authorizeOffline(idTag), nil
	}
	var p any
	if c.is16() {
		p = &v16.AuthorizeRequest{IDTag: idTag}
	} else {
		p = &v201.AuthorizeRequest{IDToken: c.idToken(idTag)}
	}
	raw, err := c.call(ctx, "Authorize", p)
	if err != nil {
		var ce *CallError
		if !errors.As(err, &ce) && !c.Online() {
			return c.authorizeOffline(idTag), nil
		}
		return "", err
	}
	var resp struct {
		IDTagInfo   *struct{ Status string } `json:"idTagInfo"`
		IDTokenInfo *struct{ Status string } `json:"idTokenInfo"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return "", fmt.Errorf("Authorize response: %w", err)
	}
	status := ""
	if resp.IDTagInfo != nil {
		status = resp.IDTagInfo.Status
	} else if resp.IDTokenInfo != nil {
		status = resp.IDTokenInfo.Status
	}
	c.cache(idTag, status)
	return status, nil
}

// cache records an authorization in the cache when it is enabled.
func (c *Charger) cache(idTag, status string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if status != "" && c.model.bool("AuthorizationCacheEnabled") {
		c.authCache[idTag] = status
	}
}

func (c *Charger) authorizeOffline(idTag string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.localList[idTag]; ok && c.model.bool("LocalAuthListEnabled") {
		return s
	}
	if s, ok := c.authCache[idTag]; ok && c.model.bool("LocalAuthorizeOffline") {
		return s
	}
	if c.model.bool("AllowOfflineTxForUnknownId") {
		return "Accepted"
	}
	return "Invalid"
}

// idToken is a 2.x RFID token.
func (c *Charger) idToken(tag string) v201.IdTokenType {
	return v201.IdTokenType{IDToken: tag, Type: "ISO14443"}
}

// Tap is an RFID card held to the reader of EVSE 1 connector 1: it stops
// the transaction that card started there, or else authorizes it and
// starts one.
func (c *Charger) Tap(ctx context.Context, idTag string) error {
	if idTag == "" {
		idTag = c.co.IDTag
	}
	c.mu.Lock()
	k := c.connector(1, 1)
	running := k.tx != nil && k.tx.idTag == idTag
	c.mu.Unlock()
	if running {
		return c.Stop(ctx, 1, 1, ReasonLocal)
	}
	_, err := c.Start(ctx, 1, 1, idTag)
	return err
}

// Start authorizes idTag and starts a transaction on the connector (EVSE
// and connector numbers from 1; in 1.6 the connector sent is the one
// counted across EVSEs). It returns the transaction as started; in 1.6
// offline its ID is empty until the CSMS assigns one on replay.
func (c *Charger) Start(ctx context.Context, evse, conn int, idTag string) (Transaction, error) {
	if idTag == "" {
		idTag = c.co.IDTag
	}
	c.mu.Lock()
	k := c.connector(evse, conn)
	c.mu.Unlock()
	if k == nil {
		return Transaction{}, fmt.Errorf("start: no connector %d on EVSE %d", conn, evse)
	}
	status, err := c.Authorize(ctx, idTag)
	if err != nil {
		return Transaction{}, fmt.Errorf("start: %w", err)
	}
	if status != "Accepted" {
		return Transaction{}, fmt.Errorf("start: %w: %s", ErrNotAuthorized, status)
	}
	return c.startTx(ctx, k, idTag, nil, "Authorized")
}

// startTx starts a transaction on k and sends its start message.
func (c *Charger) startTx(ctx context.Context, k *connector, idTag string, remoteID *int, trigger string) (Transaction, error) {
	c.mu.Lock()
	if k.tx != nil || k.inoperative || c.inoperative {
		c.mu.Unlock()
		return Transaction{}, fmt.Errorf("start: %w", ErrBusy)
	}
	var resID *int
	if r := k.reservation; r != nil {
		if r.idTag != idTag {
			c.mu.Unlock()
			return Transaction{}, fmt.Errorf("start: %w: reserved for another id token", ErrBusy)
		}
		resID = &r.id
		k.reservation = nil
		delete(c.reservations, r.id)
	}
	c.advance(k)
	c.nextLocal++
	tx := &txn{
		local: c.nextLocal, evse: k, idTag: idTag, startWh: k.meterWh, startedAt: c.ts(),
		remoteID: remoteID, resID: resID, stop: make(chan struct{}),
	}
	if !c.is16() {
		tx.id = newUUID()
	}
	k.tx = tx
	snap := Transaction{ID: tx.id, EVSE: k.evse, Connector: c.connectorNumber(k), IDTag: idTag,
		MeterStartWh: int(tx.startWh), MeterNowWh: int(tx.startWh), StartedAt: tx.startedAt, RemoteStartID: remoteID}
	c.mu.Unlock()

	var q *queued
	if c.is16() {
		p := &v16.StartTransactionRequest{ConnectorID: c.connectorNumber(k), IDTag: idTag,
			MeterStart: int(tx.startWh), ReservationID: resID, Timestamp: tx.startedAt}
		q = &queued{action: "StartTransaction", tx: tx, build: func() (any, error) { return p, nil },
			done: func(resp json.RawMessage) { c.started16(tx, resp) }}
	} else {
		ev := c.event(tx, "Started", trigger, "Transaction.Begin")
		ev.IDToken = ptr(c.idToken(idTag))
		ev.ReservationID = resID
		ev.TransactionInfo.RemoteStartID = remoteID
		q = &queued{action: "TransactionEvent", tx: tx, build: func() (any, error) { return ev, nil },
			done: func(resp json.RawMessage) { c.checkTokenInfo(tx, resp) }}
	}
	if _, err := c.sendTx(ctx, q); err != nil {
		// The CSMS refused the start (a CALLERROR): the station gives
		// up this transaction; a retry is a new attempt.
		c.mu.Lock()
		if k.tx == tx {
			k.tx = nil
		}
		tx.ended = true
		close(tx.stop)
		c.mu.Unlock()
		return Transaction{}, err
	}
	_ = c.notifyStatus(ctx, k)
	c.mu.Lock()
	snap.ID = tx.id
	c.mu.Unlock()
	c.startMeter(tx)
	return snap, nil
}

// started16 records the transaction id the CSMS assigned (OCPP 1.6
// StartTransaction.conf) and stops the transaction if the id tag was
// not accepted (StopTransactionOnInvalidId).
func (c *Charger) started16(tx *txn, resp json.RawMessage) {
	var r v16.StartTransactionResponse
	if err := json.Unmarshal(resp, &r); err != nil {
		c.logf(levelWarn, "StartTransaction response: %v", err)
		return
	}
	c.mu.Lock()
	tx.id = strconv.Itoa(r.TransactionID)
	stop := r.IDTagInfo.Status != "Accepted" && c.model.bool("StopTransactionOnInvalidId") && !tx.ended
	c.mu.Unlock()
	if stop {
		c.Station.goFollow(func(ctx context.Context) { _ = c.stopTx(ctx, tx, ReasonDeAuthorized, "Deauthorized") })
	}
}

// checkTokenInfo stops a 2.x transaction whose token the CSMS did not
// accept (TxCtrlr.StopTxOnInvalidId, E05).
func (c *Charger) checkTokenInfo(tx *txn, resp json.RawMessage) {
	var r v201.TransactionEventResponse
	if err := json.Unmarshal(resp, &r); err != nil || r.IDTokenInfo == nil {
		return
	}
	c.cache(tx.idTag, string(r.IDTokenInfo.Status))
	c.mu.Lock()
	stop := r.IDTokenInfo.Status != "Accepted" && c.model.bool("StopTransactionOnInvalidId") && !tx.ended
	c.mu.Unlock()
	if stop {
		c.Station.goFollow(func(ctx context.Context) { _ = c.stopTx(ctx, tx, ReasonDeAuthorized, "Deauthorized") })
	}
}

// event builds a 2.x TransactionEvent for tx with a meter value of the
// given context; the caller holds no lock.
func (c *Charger) event(tx *txn, eventType, trigger, readingContext string) *v201.TransactionEventRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eventLocked(tx, eventType, trigger, readingContext)
}

func (c *Charger) eventLocked(tx *txn, eventType, trigger, readingContext string) *v201.TransactionEventRequest {
	k := tx.evse
	c.advance(k)
	ev := &v201.TransactionEventRequest{
		EventType:     v201.TransactionEventEnumType(eventType),
		Timestamp:     c.ts(),
		TriggerReason: v201.TriggerReasonEnumType(trigger),
		SeqNo:         tx.seq,
		TransactionInfo: v201.TransactionType{
			TransactionID: tx.id,
			ChargingState: "Charging",
		},
		Evse: &v201.EVSEType{ID: k.evse, ConnectorID: ptr(k.id)},
	}
	tx.seq++
	if c.online == nil || c.online != c.Station.current() {
		ev.Offline = ptr(true)
	}
	if readingContext != "" {
		ev.MeterValue = []v201.MeterValueType{c.sample201(k, readingContext, eventType != "Ended")}
	}
	return ev
}

// sample201 is a 2.x meter value of k: the energy register and, while
// charging, the power.
func (c *Charger) sample201(k *connector, readingContext string, power bool) v201.MeterValueType {
	mv := v201.MeterValueType{Timestamp: c.ts(), SampledValue: []v201.SampledValueType{{
		Value: float64(int(k.meterWh)), Context: v201.ReadingContextEnumType(readingContext),
		Measurand: "Energy.Active.Import.Register", Location: "Outlet",
		UnitOfMeasure: &v201.UnitOfMeasureType{Unit: "Wh"},
	}}}
	if power && k.tx != nil {
		mv.SampledValue = append(mv.SampledValue, v201.SampledValueType{
			Value: c.co.PowerW, Context: v201.ReadingContextEnumType(readingContext),
			Measurand: "Power.Active.Import", Location: "Outlet",
			UnitOfMeasure: &v201.UnitOfMeasureType{Unit: "W"},
		})
	}
	return mv
}

// sample16 is the 1.6 counterpart of sample201.
func (c *Charger) sample16(k *connector, readingContext string, power bool) v16.MeterValue {
	mv := v16.MeterValue{Timestamp: c.ts(), SampledValue: []v16.SampledValue{{
		Value: strconv.Itoa(int(k.meterWh)), Context: v16.ReadingContext(readingContext),
		Measurand: "Energy.Active.Import.Register", Location: "Outlet", Unit: "Wh",
	}}}
	if power && k.tx != nil {
		mv.SampledValue = append(mv.SampledValue, v16.SampledValue{
			Value: strconv.FormatFloat(c.co.PowerW, 'f', -1, 64), Context: v16.ReadingContext(readingContext),
			Measurand: "Power.Active.Import", Location: "Outlet", Unit: "W",
		})
	}
	return mv
}

// MeterValues sends a meter reading of the connector: during a
// transaction a 1.6 MeterValues with its transactionId or a 2.x
// TransactionEvent Updated (queued while offline), outside one a
// MeterValues message (not queued).
func (c *Charger) MeterValues(ctx context.Context, evse, conn int) error {
	return c.meterValues(ctx, evse, conn, "Sample.Periodic", "MeterValuePeriodic")
}

func (c *Charger) meterValues(ctx context.Context, evse, conn int, readingContext, trigger string) error {
	c.mu.Lock()
	k := c.connector(evse, conn)
	if k == nil {
		c.mu.Unlock()
		return fmt.Errorf("meter values: no connector %d on EVSE %d", conn, evse)
	}
	tx := k.tx
	c.advance(k)
	c.mu.Unlock()
	if tx == nil {
		var p any
		c.mu.Lock()
		if c.is16() {
			p = &v16.MeterValuesRequest{ConnectorID: c.connectorNumber(k), MeterValue: []v16.MeterValue{c.sample16(k, readingContext, false)}}
		} else {
			p = &v201.MeterValuesRequest{EvseID: k.evse, MeterValue: []v201.MeterValueType{c.sample201(k, readingContext, false)}}
		}
		c.mu.Unlock()
		_, err := c.call(ctx, "MeterValues", p)
		return err
	}
	var q *queued
	if c.is16() {
		c.mu.Lock()
		mv := c.sample16(k, readingContext, true)
		n := c.connectorNumber(k)
		c.mu.Unlock()
		q = &queued{action: "MeterValues", tx: tx, meter: true, build: func() (any, error) {
			id, err := c.txID16(tx)
			if err != nil {
				return nil, err
			}
			return &v16.MeterValuesRequest{ConnectorID: n, TransactionID: &id, MeterValue: []v16.MeterValue{mv}}, nil
		}}
	} else {
		ev := c.event(tx, "Updated", trigger, readingContext)
		q = &queued{action: "TransactionEvent", tx: tx, meter: true, build: func() (any, error) { return ev, nil }}
	}
	_, err := c.sendTx(ctx, q)
	return err
}

// txID16 is the 1.6 transaction id the CSMS assigned to tx.
func (c *Charger) txID16(tx *txn) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, err := strconv.Atoi(tx.id)
	if err != nil {
		return 0, fmt.Errorf("transaction %d has no id from the CSMS", tx.local)
	}
	return id, nil
}

// startMeter sends meter values for tx at the configured interval until
// it ends.
func (c *Charger) startMeter(tx *txn) {
	c.Station.goFollow(func(ctx context.Context) {
		for {
			d := c.meterInterval()
			wait := d
			if wait <= 0 {
				wait = time.Second // look again whether sampling was enabled
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-tx.stop:
				t.Stop()
				return
			case <-t.C:
			}
			if d <= 0 {
				continue
			}
			k := tx.evse
			if err := c.MeterValues(ctx, k.evse, k.id); err != nil {
				c.logf(levelWarn, "meter values: %v", err)
			}
		}
	})
}

func (c *Charger) meterInterval() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, _ := strconv.Atoi(c.model.value("MeterValueSampleInterval"))
	return time.Duration(n) * time.Second
}

// Stop ends the transaction on the connector with a 1.6 stop reason
// (Local, Remote, EVDisconnected, …; 2.x sends the same stoppedReason).
func (c *Charger) Stop(ctx context.Context, evse, conn int, reason string) error {
	c.mu.Lock()
	k := c.connector(evse, conn)
	var tx *txn
	if k != nil {
		tx = k.tx
	}
	c.mu.Unlock()
	if tx == nil {
		return fmt.Errorf("stop: no transaction on EVSE %d connector %d", evse, conn)
	}
	trigger := "StopAuthorized"
	switch reason {
	case ReasonRemote:
		trigger = "RemoteStop"
	case ReasonEVDisconnect:
		trigger = "EVCommunicationLost"
	case ReasonDeAuthorized:
		trigger = "Deauthorized"
	case ReasonHardReset, ReasonSoftReset:
		trigger = "ResetCommand"
	case ReasonUnlockCommand:
		trigger = "UnlockCommand"
	}
	return c.stopTx(ctx, tx, reason, trigger)
}

// stopTx ends tx: the stop message (queued while offline), the meter
// ticker, the status.
func (c *Charger) stopTx(ctx context.Context, tx *txn, reason, trigger string) error {
	c.mu.Lock()
	if tx.ended {
		c.mu.Unlock()
		return nil
	}
	tx.ended = true
	close(tx.stop)
	k := tx.evse
	c.advance(k)
	var q *queued
	if c.is16() {
		p := &v16.StopTransactionRequest{MeterStop: int(k.meterWh), Timestamp: c.ts(), Reason: v16.Reason(reason),
			TransactionData: []v16.MeterValue{c.sample16(k, "Transaction.End", false)}}
		if reason == ReasonLocal {
			p.IDTag = tx.idTag
		}
		q = &queued{action: "StopTransaction", tx: tx, build: func() (any, error) {
			id, err := c.txID16(tx)
			if err != nil {
				return nil, err
			}
			p.TransactionID = id
			return p, nil
		}}
	} else {
		ev := c.eventLocked(tx, "Ended", trigger, "Transaction.End")
		ev.TransactionInfo.StoppedReason = v201.ReasonEnumType(stoppedReason2x(reason))
		ev.TransactionInfo.ChargingState = "EVConnected"
		if reason == ReasonLocal {
			ev.IDToken = ptr(c.idToken(tx.idTag))
		}
		q = &queued{action: "TransactionEvent", tx: tx, build: func() (any, error) { return ev, nil }}
	}
	k.tx = nil
	c.mu.Unlock()

	_, err := c.sendTx(ctx, q)
	c.afterTransaction(ctx, k)
	return err
}

// stoppedReason2x maps a 1.6 stop reason to a 2.x ReasonEnumType.
func stoppedReason2x(reason string) string {
	switch reason {
	case ReasonHardReset, ReasonSoftReset:
		return "ImmediateReset"
	case ReasonUnlockCommand:
		return "Other"
	}
	return reason
}

// afterTransaction applies what waited for the end of a transaction on k
// (a scheduled availability change, an OnIdle reset) and reports k's
// status.
func (c *Charger) afterTransaction(ctx context.Context, k *connector) {
	c.mu.Lock()
	if k.pendingOp != nil {
		k.inoperative = *k.pendingOp
		k.pendingOp = nil
	}
	reset := ""
	if c.pendingReset != "" && !c.busy() {
		reset, c.pendingReset = c.pendingReset, ""
	}
	c.mu.Unlock()
	_ = c.notifyStatus(ctx, k)
	if reset != "" {
		c.Station.goFollow(func(ctx context.Context) { c.reboot(ctx, reset) })
	}
}

// busy reports whether a transaction runs; c.mu held.
func (c *Charger) busy() bool {
	for _, k := range c.all() {
		if k.tx != nil {
			return true
		}
	}
	return false
}

// SessionOptions describe one charging session for Session.
type SessionOptions struct {
	EVSE, Connector int    // default 1, 1
	IDTag           string // default ChargerOptions.IDTag
	// Duration is how long the EV charges; meter values are sent at the
	// configured interval meanwhile.
	Duration time.Duration
}

// Session plays a whole charging session: authorize, start, meter values
// at the interval while charging for o.Duration, stop (Local, with
// EVDisconnected if ctx ends first). It returns the transaction as it
// ended.
func (c *Charger) Session(ctx context.Context, o SessionOptions) (Transaction, error) {
	if o.EVSE == 0 {
		o.EVSE = 1
	}
	if o.Connector == 0 {
		o.Connector = 1
	}
	tx, err := c.Start(ctx, o.EVSE, o.Connector, o.IDTag)
	if err != nil {
		return tx, err
	}
	t := time.NewTimer(o.Duration)
	defer t.Stop()
	reason := ReasonLocal
	select {
	case <-t.C:
	case <-ctx.Done():
		reason = ReasonEVDisconnect
	}
	c.mu.Lock()
	k := c.connector(o.EVSE, o.Connector)
	if k.tx != nil {
		tx.ID = k.tx.id
	}
	c.mu.Unlock()
	sctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), c.Station.opts.CallTimeout)
		defer cancel()
	}
	err = c.Stop(sctx, o.EVSE, o.Connector, reason)
	c.mu.Lock()
	tx.MeterNowWh = int(k.meterWh) // the register stopped with the transaction
	c.mu.Unlock()
	return tx, err
}

func ptr[T any](v T) *T { return &v }
