package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/message"
	"github.com/ocppd/ocppd/ocpp/v16"
	"github.com/ocppd/ocppd/ocpp/v201"
)

// handle registers a handler that decodes and validates the request in
// the station's version (a schema violation is answered with the
// version's CALLERROR, e.g. FormatViolation), and validates the response
// before it is sent: what the charger answers is valid by construction.
func handle[T any](c *Charger, action string, fn func(ctx context.Context, req *T) (any, error)) {
	c.Station.Handle(action, func(ctx context.Context, p json.RawMessage) (any, error) {
		if _, err := message.DecodeRequest(c.v, action, p, ocpp.DecodeOptions{}); err != nil {
			var ve *ocpp.ValidationError
			if errors.As(err, &ve) {
				return nil, &CallError{Code: ve.Code(c.v), Description: cut(ve.Error(), 255)}
			}
			return nil, err
		}
		req := new(T)
		if err := json.Unmarshal(p, req); err != nil {
			return nil, &CallError{Code: c.v.ErrorCode(ocpp.ErrFormat), Description: cut(err.Error(), 255)}
		}
		res, err := fn(ctx, req)
		if err != nil {
			return nil, err
		}
		payload := res
		fu, follow := res.(*followUp)
		if follow {
			payload = fu.result
		}
		raw, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("encode %s response: %w", action, err)
		}
		if _, err := message.DecodeResponse(c.v, action, raw, ocpp.DecodeOptions{}); err != nil {
			return nil, fmt.Errorf("invalid %s response %s: %w", action, raw, err)
		}
		if follow {
			return FollowedBy(json.RawMessage(raw), fu.next), nil
		}
		return json.RawMessage(raw), nil
	})
}

// status is the common {"status": …} response.
type status struct {
	Status string `json:"status"`
}

func (c *Charger) registerHandlers() {
	if c.is16() {
		c.register16()
	} else {
		c.register2x()
	}
}

func (c *Charger) register16() {
	handle(c, "Reset", func(ctx context.Context, r *v16.ResetRequest) (any, error) {
		reason := ReasonSoftReset
		if r.Type == "Hard" {
			reason = ReasonHardReset
		}
		return FollowedBy(status{"Accepted"}, func(ctx context.Context) { c.reset(ctx, reason) }), nil
	})
	handle(c, "RemoteStartTransaction", func(ctx context.Context, r *v16.RemoteStartTransactionRequest) (any, error) {
		c.mu.Lock()
		var k *connector
		if r.ConnectorID != nil {
			k = c.connector16(*r.ConnectorID)
		} else {
			k = c.freeConnector(0)
		}
		ok := k != nil && k.tx == nil && !k.inoperative && !c.inoperative &&
			(k.reservation == nil || k.reservation.idTag == r.IDTag)
		if ok && r.ChargingProfile != nil {
			c.addProfile16(c.connectorNumber(k), r.ChargingProfile)
		}
		auth := c.model.bool("AuthorizeRemoteTxRequests")
		c.mu.Unlock()
		if !ok {
			return status{"Rejected"}, nil
		}
		return FollowedBy(status{"Accepted"}, func(ctx context.Context) { c.remoteStart(ctx, k, r.IDTag, nil, auth) }), nil
	})
	handle(c, "RemoteStopTransaction", func(ctx context.Context, r *v16.RemoteStopTransactionRequest) (any, error) {
		return c.remoteStop(strconv.Itoa(r.TransactionID)), nil
	})
	handle(c, "ChangeAvailability", func(ctx context.Context, r *v16.ChangeAvailabilityRequest) (any, error) {
		c.mu.Lock()
		var ks []*connector
		if r.ConnectorID == 0 {
			ks = c.all()
		} else if k := c.connector16(r.ConnectorID); k != nil {
			ks = []*connector{k}
		}
		c.mu.Unlock()
		if ks == nil {
			return status{"Rejected"}, nil
		}
		return c.changeAvailability(ks, r.ConnectorID == 0, r.Type == "Inoperative"), nil
	})
	handle(c, "GetConfiguration", func(ctx context.Context, r *v16.GetConfigurationRequest) (any, error) {
		return c.getConfiguration(r.Key), nil
	})
	handle(c, "ChangeConfiguration", func(ctx context.Context, r *v16.ChangeConfigurationRequest) (any, error) {
		st := c.changeConfiguration(r.Key, r.Value)
		if r.Key == "AuthorizationKey" && st == "Accepted" {
			pw := r.Value
			return FollowedBy(status{st}, func(context.Context) { c.newPassword(pw) }), nil
		}
		return status{st}, nil
	})
	handle(c, "UpdateFirmware", func(ctx context.Context, r *v16.UpdateFirmwareRequest) (any, error) {
		return FollowedBy(struct{}{}, func(ctx context.Context) { c.updateFirmware(ctx, r.Location, r.RetrieveDate, nil) }), nil
	})
	handle(c, "GetDiagnostics", func(ctx context.Context, r *v16.GetDiagnosticsRequest) (any, error) {
		name := c.logName("diagnostics", 0)
		return FollowedBy(struct {
			FileName string `json:"fileName"`
		}{name}, func(ctx context.Context) { c.uploadLog(ctx, r.Location, name, nil, "DiagnosticsStatusNotification") }), nil
	})
	handle(c, "GetLog", func(ctx context.Context, r *v16.GetLogRequest) (any, error) {
		name := c.logName(strings.ToLower(string(r.LogType)), r.RequestID)
		id := r.RequestID
		return FollowedBy(struct {
			Status   string `json:"status"`
			Filename string `json:"filename"`
		}{"Accepted", name}, func(ctx context.Context) { c.uploadLog(ctx, r.Log.RemoteLocation, name, &id, "LogStatusNotification") }), nil
	})
	handle(c, "TriggerMessage", func(ctx context.Context, r *v16.TriggerMessageRequest) (any, error) {
		conn := 0
		if r.ConnectorID != nil {
			conn = *r.ConnectorID
			c.mu.Lock()
			k := c.connector16(conn)
			c.mu.Unlock()
			if k == nil {
				return status{"Rejected"}, nil
			}
		}
		return c.trigger(string(r.RequestedMessage), 0, conn)
	})
	handle(c, "UnlockConnector", func(ctx context.Context, r *v16.UnlockConnectorRequest) (any, error) {
		c.mu.Lock()
		k := c.connector16(r.ConnectorID)
		var tx *txn
		if k != nil {
			tx = k.tx
		}
		c.mu.Unlock()
		if k == nil {
			return status{"NotSupported"}, nil
		}
		if tx != nil {
			// 1.6 §5.18: a running transaction is stopped first.
			if err := c.stopTx(ctx, tx, ReasonUnlockCommand, "UnlockCommand"); err != nil {
				return status{"UnlockFailed"}, nil
			}
		}
		return status{"Unlocked"}, nil
	})
	handle(c, "ClearCache", func(ctx context.Context, _ *v16.ClearCacheRequest) (any, error) {
		return status{c.clearCache()}, nil
	})
	handle(c, "SendLocalList", func(ctx context.Context, r *v16.SendLocalListRequest) (any, error) {
		entries := map[string]string{}
		for _, e := range r.LocalAuthorizationList {
			st := ""
			if e.IDTagInfo != nil {
				st = string(e.IDTagInfo.Status)
			}
			entries[e.IDTag] = st
		}
		return status{c.sendLocalList(r.ListVersion, string(r.UpdateType), entries)}, nil
	})
	handle(c, "GetLocalListVersion", func(ctx context.Context, _ *v16.GetLocalListVersionRequest) (any, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		v := c.localVersion
		if !c.model.bool("LocalAuthListEnabled") {
			v = -1
		}
		return struct {
			ListVersion int `json:"listVersion"`
		}{v}, nil
	})
	handle(c, "ReserveNow", func(ctx context.Context, r *v16.ReserveNowRequest) (any, error) {
		c.mu.Lock()
		var k *connector
		if r.ConnectorID == 0 {
			k = c.freeConnector(0)
		} else {
			k = c.connector16(r.ConnectorID)
		}
		c.mu.Unlock()
		return c.reserve(k, r.ReservationID, r.IDTag, r.ExpiryDate, r.ConnectorID == 0), nil
	})
	handle(c, "CancelReservation", func(ctx context.Context, r *v16.CancelReservationRequest) (any, error) {
		return c.cancelReservation(r.ReservationID), nil
	})
	handle(c, "SetChargingProfile", func(ctx context.Context, r *v16.SetChargingProfileRequest) (any, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		p := r.CsChargingProfiles
		if r.ConnectorID != 0 && c.connector16(r.ConnectorID) == nil {
			return status{"Rejected"}, nil
		}
		if p.ChargingProfilePurpose == "TxProfile" {
			// 1.6 §3.13.3: a TxProfile needs a transaction on the connector.
			k := c.connector16(r.ConnectorID)
			if k == nil || k.tx == nil {
				return status{"Rejected"}, nil
			}
		}
		c.addProfile16(r.ConnectorID, &p)
		return status{"Accepted"}, nil
	})
	handle(c, "ClearChargingProfile", func(ctx context.Context, r *v16.ClearChargingProfileRequest) (any, error) {
		return status{c.clearProfiles(r.ID, r.ConnectorID, string(r.ChargingProfilePurpose), r.StackLevel)}, nil
	})
	handle(c, "GetCompositeSchedule", func(ctx context.Context, r *v16.GetCompositeScheduleRequest) (any, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if r.ConnectorID != 0 && c.connector16(r.ConnectorID) == nil {
			return status{"Rejected"}, nil
		}
		unit := string(r.ChargingRateUnit)
		if unit == "" {
			unit = "W"
		}
		limit := c.compositeLimit(r.ConnectorID, unit)
		d := r.Duration
		return &v16.GetCompositeScheduleResponse{
			Status: "Accepted", ConnectorID: &r.ConnectorID, ScheduleStart: c.ts(),
			ChargingSchedule: &v16.ChargingSchedule{Duration: &d, ChargingRateUnit: v16.ChargingRateUnitType(unit),
				ChargingSchedulePeriod: []v16.ChargingSchedulePeriod{{StartPeriod: 0, Limit: limit}}},
		}, nil
	})
	handle(c, "DataTransfer", func(ctx context.Context, r *v16.DataTransferRequest) (any, error) {
		if r.VendorID != c.Station.opts.Vendor {
			return status{"UnknownVendorId"}, nil
		}
		return &v16.DataTransferResponse{Status: "Accepted", Data: r.Data}, nil
	})
}

func (c *Charger) register2x() {
	handle(c, "Reset", func(ctx context.Context, r *v201.ResetRequest) (any, error) {
		if r.EvseID != nil {
			// Resetting a single EVSE is optional (B11.FR.08); not supported.
			return status{"Rejected"}, nil
		}
		c.mu.Lock()
		busy := c.busy()
		if r.Type == "OnIdle" && busy {
			c.pendingReset = ReasonSoftReset
			c.mu.Unlock()
			return status{"Scheduled"}, nil // B11.FR.04 / B12.FR.03
		}
		c.mu.Unlock()
		return FollowedBy(status{"Accepted"}, func(ctx context.Context) { c.reset(ctx, ReasonHardReset) }), nil
	})
	handle(c, "RequestStartTransaction", func(ctx context.Context, r *v201.RequestStartTransactionRequest) (any, error) {
		c.mu.Lock()
		evse := 0
		if r.EvseID != nil {
			evse = *r.EvseID
		}
		k := c.freeConnector(evse)
		ok := k != nil && !c.inoperative && (k.reservation == nil || k.reservation.idTag == r.IDToken.IDToken)
		if ok && r.ChargingProfile != nil {
			c.addProfile2x(k.evse, r.ChargingProfile)
		}
		auth := c.model.bool("AuthorizeRemoteTxRequests")
		c.mu.Unlock()
		if !ok {
			return status{"Rejected"}, nil
		}
		id := r.RemoteStartID
		return FollowedBy(status{"Accepted"}, func(ctx context.Context) { c.remoteStart(ctx, k, r.IDToken.IDToken, &id, auth) }), nil
	})
	handle(c, "RequestStopTransaction", func(ctx context.Context, r *v201.RequestStopTransactionRequest) (any, error) {
		return c.remoteStop(r.TransactionID), nil
	})
	handle(c, "GetTransactionStatus", func(ctx context.Context, r *v201.GetTransactionStatusRequest) (any, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		res := &v201.GetTransactionStatusResponse{}
		for _, q := range c.queue {
			if r.TransactionID == "" || (q.tx != nil && q.tx.id == r.TransactionID) {
				res.MessagesInQueue = true
			}
		}
		if r.TransactionID != "" {
			ongoing := false
			for _, k := range c.all() {
				if k.tx != nil && k.tx.id == r.TransactionID {
					ongoing = true
				}
			}
			res.OngoingIndicator = &ongoing
		}
		return res, nil
	})
	handle(c, "ChangeAvailability", func(ctx context.Context, r *v201.ChangeAvailabilityRequest) (any, error) {
		c.mu.Lock()
		var ks []*connector
		station := r.Evse == nil
		switch {
		case station:
			ks = c.all()
		case r.Evse.ConnectorID != nil:
			if k := c.connector(r.Evse.ID, *r.Evse.ConnectorID); k != nil {
				ks = []*connector{k}
			}
		case r.Evse.ID >= 1 && r.Evse.ID <= len(c.evses):
			ks = append(ks, c.evses[r.Evse.ID-1]...)
		}
		c.mu.Unlock()
		if ks == nil {
			return status{"Rejected"}, nil
		}
		return c.changeAvailability(ks, station, r.OperationalStatus == "Inoperative"), nil
	})
	handle(c, "GetVariables", func(ctx context.Context, r *v201.GetVariablesRequest) (any, error) {
		return c.getVariables(r), nil
	})
	handle(c, "SetVariables", func(ctx context.Context, r *v201.SetVariablesRequest) (any, error) {
		res := c.setVariables(r)
		for i, d := range r.SetVariableData {
			if d.Component.Name == "SecurityCtrlr" && d.Variable.Name == "BasicAuthPassword" &&
				res.SetVariableResult[i].AttributeStatus == "Accepted" {
				pw := d.AttributeValue
				return FollowedBy(res, func(context.Context) { c.newPassword(pw) }), nil
			}
		}
		return res, nil
	})
	handle(c, "GetBaseReport", func(ctx context.Context, r *v201.GetBaseReportRequest) (any, error) {
		data := c.report(string(r.ReportBase), nil)
		id := r.RequestID
		return FollowedBy(status{"Accepted"}, func(ctx context.Context) { c.notifyReport(ctx, id, data) }), nil
	})
	handle(c, "GetReport", func(ctx context.Context, r *v201.GetReportRequest) (any, error) {
		data := c.report("", r)
		if len(data) == 0 {
			return status{"EmptyResultSet"}, nil
		}
		id := r.RequestID
		return FollowedBy(status{"Accepted"}, func(ctx context.Context) { c.notifyReport(ctx, id, data) }), nil
	})
	handle(c, "UpdateFirmware", func(ctx context.Context, r *v201.UpdateFirmwareRequest) (any, error) {
		c.mu.Lock()
		st := "Accepted"
		if c.firmware.InProgress {
			st = "AcceptedCanceled" // L01.FR.24: the update in progress is canceled
		}
		c.mu.Unlock()
		id := r.RequestID
		return FollowedBy(status{st}, func(ctx context.Context) {
			c.updateFirmware(ctx, r.Firmware.Location, r.Firmware.RetrieveDateTime, &id)
		}), nil
	})
	handle(c, "GetLog", func(ctx context.Context, r *v201.GetLogRequest) (any, error) {
		name := c.logName(strings.ToLower(string(r.LogType)), r.RequestID)
		id := r.RequestID
		return FollowedBy(&v201.GetLogResponse{Status: "Accepted", Filename: name}, func(ctx context.Context) {
			c.uploadLog(ctx, r.Log.RemoteLocation, name, &id, "LogStatusNotification")
		}), nil
	})
	handle(c, "TriggerMessage", func(ctx context.Context, r *v201.TriggerMessageRequest) (any, error) {
		evse, conn := 0, 0
		if r.Evse != nil {
			evse = r.Evse.ID
			if r.Evse.ConnectorID != nil {
				conn = *r.Evse.ConnectorID
			}
			c.mu.Lock()
			ok := evse >= 1 && evse <= len(c.evses) && (conn == 0 || c.connector(evse, conn) != nil)
			c.mu.Unlock()
			if !ok {
				return status{"Rejected"}, nil
			}
		}
		return c.trigger(string(r.RequestedMessage), evse, conn)
	})
	handle(c, "UnlockConnector", func(ctx context.Context, r *v201.UnlockConnectorRequest) (any, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		k := c.connector(r.EvseID, r.ConnectorID)
		switch {
		case k == nil:
			return status{"UnknownConnector"}, nil
		case k.tx != nil:
			return status{"OngoingAuthorizedTransaction"}, nil // F05.FR.02
		}
		return status{"Unlocked"}, nil
	})
	handle(c, "ClearCache", func(ctx context.Context, _ *v201.ClearCacheRequest) (any, error) {
		return status{c.clearCache()}, nil
	})
	handle(c, "SendLocalList", func(ctx context.Context, r *v201.SendLocalListRequest) (any, error) {
		entries := map[string]string{}
		for _, e := range r.LocalAuthorizationList {
			st := ""
			if e.IDTokenInfo != nil {
				st = string(e.IDTokenInfo.Status)
			}
			entries[e.IDToken.IDToken] = st
		}
		res := c.sendLocalList(r.VersionNumber, string(r.UpdateType), entries)
		if res == "NotSupported" {
			res = "Failed"
		}
		return status{res}, nil
	})
	handle(c, "GetLocalListVersion", func(ctx context.Context, _ *v201.GetLocalListVersionRequest) (any, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return struct {
			VersionNumber int `json:"versionNumber"`
		}{c.localVersion}, nil
	})
	handle(c, "ReserveNow", func(ctx context.Context, r *v201.ReserveNowRequest) (any, error) {
		c.mu.Lock()
		evse := 0
		if r.EvseID != nil {
			evse = *r.EvseID
		}
		k := c.freeConnector(evse)
		if k == nil && evse >= 1 && evse <= len(c.evses) {
			k = c.evses[evse-1][0] // occupied or unavailable: say which
		}
		c.mu.Unlock()
		return c.reserve(k, r.ID, r.IDToken.IDToken, r.ExpiryDateTime, r.EvseID == nil), nil
	})
	handle(c, "CancelReservation", func(ctx context.Context, r *v201.CancelReservationRequest) (any, error) {
		return c.cancelReservation(r.ReservationID), nil
	})
	handle(c, "SetChargingProfile", func(ctx context.Context, r *v201.SetChargingProfileRequest) (any, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if r.EvseID < 0 || r.EvseID > len(c.evses) {
			return status{"Rejected"}, nil
		}
		if r.ChargingProfile.ChargingProfilePurpose == "TxProfile" {
			found := false
			for _, k := range c.all() {
				if k.tx != nil && (r.EvseID == 0 || k.evse == r.EvseID) &&
					(r.ChargingProfile.TransactionID == "" || k.tx.id == r.ChargingProfile.TransactionID) {
					found = true
				}
			}
			if !found {
				return status{"Rejected"}, nil // K01.FR.09
			}
		}
		c.addProfile2x(r.EvseID, &r.ChargingProfile)
		return status{"Accepted"}, nil
	})
	handle(c, "ClearChargingProfile", func(ctx context.Context, r *v201.ClearChargingProfileRequest) (any, error) {
		var evse, level *int
		purpose := ""
		if cr := r.ChargingProfileCriteria; cr != nil {
			evse, level, purpose = cr.EvseID, cr.StackLevel, string(cr.ChargingProfilePurpose)
		}
		return status{c.clearProfiles(r.ChargingProfileID, evse, purpose, level)}, nil
	})
	handle(c, "GetCompositeSchedule", func(ctx context.Context, r *v201.GetCompositeScheduleRequest) (any, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if r.EvseID < 0 || r.EvseID > len(c.evses) {
			return status{"Rejected"}, nil
		}
		unit := string(r.ChargingRateUnit)
		if unit == "" {
			unit = "W"
		}
		return &v201.GetCompositeScheduleResponse{Status: "Accepted", Schedule: &v201.CompositeScheduleType{
			EvseID: r.EvseID, Duration: r.Duration, ScheduleStart: c.ts(), ChargingRateUnit: v201.ChargingRateUnitEnumType(unit),
			ChargingSchedulePeriod: []v201.ChargingSchedulePeriodType{{StartPeriod: 0, Limit: c.compositeLimit(r.EvseID, unit)}},
		}}, nil
	})
	handle(c, "DataTransfer", func(ctx context.Context, r *v201.DataTransferRequest) (any, error) {
		if r.VendorID != c.Station.opts.Vendor {
			return status{"UnknownVendorId"}, nil
		}
		return &v201.DataTransferResponse{Status: "Accepted", Data: r.Data}, nil
	})
}

// freeConnector returns the first connector without a transaction that
// is operative, on evse (0: any EVSE); c.mu held.
func (c *Charger) freeConnector(evse int) *connector {
	for _, k := range c.all() {
		if (evse == 0 || k.evse == evse) && k.tx == nil && !k.inoperative {
			return k
		}
	}
	return nil
}

// remoteStart starts a transaction a CSMS asked for, after authorizing
// the token if AuthorizeRemoteTxRequests / AuthorizeRemoteStart says so.
func (c *Charger) remoteStart(ctx context.Context, k *connector, idTag string, remoteID *int, authorize bool) {
	if authorize {
		st, err := c.Authorize(ctx, idTag)
		if err != nil || st != "Accepted" {
			c.logf(levelWarn, "remote start refused: %s %v", st, err)
			return
		}
	} else {
		c.cache(idTag, "Accepted")
	}
	if _, err := c.startTx(ctx, k, idTag, remoteID, "RemoteStart"); err != nil {
		c.logf(levelWarn, "remote start: %v", err)
	}
}

// remoteStop answers a remote stop of transaction id and stops it after
// the answer.
func (c *Charger) remoteStop(id string) any {
	c.mu.Lock()
	var tx *txn
	for _, k := range c.all() {
		if k.tx != nil && k.tx.id == id {
			tx = k.tx
		}
	}
	c.mu.Unlock()
	if tx == nil {
		return status{"Rejected"}
	}
	return FollowedBy(status{"Accepted"}, func(ctx context.Context) {
		if err := c.stopTx(ctx, tx, ReasonRemote, "RemoteStop"); err != nil {
			c.logf(levelWarn, "remote stop: %v", err)
		}
	})
}

// reset stops every transaction with reason and reboots.
func (c *Charger) reset(ctx context.Context, reason string) {
	c.mu.Lock()
	var txs []*txn
	for _, k := range c.all() {
		if k.tx != nil {
			txs = append(txs, k.tx)
		}
	}
	c.mu.Unlock()
	for _, tx := range txs {
		trigger := "ResetCommand"
		if err := c.stopTx(ctx, tx, reason, trigger); err != nil {
			c.logf(levelWarn, "stop before reset: %v", err)
		}
	}
	c.reboot(ctx, reason)
}

// newPassword takes the HTTP Basic password the CSMS set (1.6 security
// whitepaper A01 scenario, 2.0.1 A01): once the answer is sent, a station
// that authenticates with a password disconnects and connects again with
// the new one at once. The password is never logged (A01.FR.12).
func (c *Charger) newPassword(pw string) {
	had := c.Station.Password() != ""
	c.Station.SetPassword(pw)
	if !had {
		c.logf(levelInfo, "HTTP Basic password set; used from the next connection")
		return
	}
	c.logf(levelInfo, "HTTP Basic password changed: reconnecting with the new one")
	c.Station.rebootPending.Store(true) // Run connects again without waiting
	c.Station.Disconnect(1000, "")
}

// reboot drops the connection; Run connects and boots again at once with
// the boot reason RemoteReset (2.x).
func (c *Charger) reboot(ctx context.Context, reason string) {
	c.logf(levelInfo, "reset (%s): rebooting", reason)
	c.Station.SetBootReason("RemoteReset")
	c.mu.Lock()
	c.online = nil
	c.mu.Unlock()
	c.Station.rebootPending.Store(true)
	c.Station.Disconnect(1000, "")
}

// changeAvailability sets connectors operative or not; connectors with a
// transaction change when it ends (Scheduled; 1.6 §5.2, 2.0.1 G03.FR.05).
func (c *Charger) changeAvailability(ks []*connector, station, inoperative bool) any {
	c.mu.Lock()
	scheduled := false
	var changed []*connector
	if station {
		c.inoperative = false // per-connector flags carry it
	}
	for _, k := range ks {
		if k.tx != nil {
			if k.inoperative != inoperative {
				scheduled = true
				k.pendingOp = ptr(inoperative)
			}
			continue
		}
		if k.inoperative != inoperative {
			changed = append(changed, k)
		}
		k.inoperative = inoperative
	}
	c.mu.Unlock()
	res := "Accepted"
	if scheduled {
		res = "Scheduled"
	}
	return FollowedBy(status{res}, func(ctx context.Context) {
		for _, k := range changed {
			_ = c.notifyStatus(ctx, k)
		}
	})
}

// trigger answers a TriggerMessage and sends the requested message after
// the answer (F06.FR.04; 1.6 §5.17).
func (c *Charger) trigger(what string, evse, conn int) (any, error) {
	var send func(ctx context.Context) error
	switch what {
	case "BootNotification":
		if !c.is16() && c.Online() {
			return status{"Rejected"}, nil // F06.FR.17: already accepted
		}
		send = func(ctx context.Context) error { _, err := c.Station.Boot(ctx); return err }
	case "Heartbeat":
		send = func(ctx context.Context) error { _, err := c.Station.Heartbeat(ctx); return err }
	case "StatusNotification":
		send = func(ctx context.Context) error {
			for _, k := range c.selected(evse, conn) {
				if err := c.notifyStatus(ctx, k); err != nil {
					return err
				}
			}
			return nil
		}
	case "MeterValues":
		send = func(ctx context.Context) error {
			for _, k := range c.selected(evse, conn) {
				if err := c.meterValues(ctx, k.evse, k.id, "Trigger", "Trigger"); err != nil {
					return err
				}
			}
			return nil
		}
	case "TransactionEvent":
		send = func(ctx context.Context) error {
			for _, k := range c.selected(evse, conn) {
				c.mu.Lock()
				tx := k.tx
				c.mu.Unlock()
				if tx == nil {
					continue
				}
				if err := c.meterValues(ctx, k.evse, k.id, "Trigger", "Trigger"); err != nil {
					return err
				}
			}
			return nil
		}
	case "FirmwareStatusNotification":
		send = func(ctx context.Context) error {
			c.mu.Lock()
			st := c.firmware.Status
			c.mu.Unlock()
			if st == "" || st == "Installed" || st == "DownloadFailed" || st == "InstallationFailed" {
				st = "Idle"
			}
			return c.firmwareStatus(ctx, st, nil)
		}
	case "DiagnosticsStatusNotification", "LogStatusNotification":
		send = func(ctx context.Context) error {
			action := "LogStatusNotification"
			if what == "DiagnosticsStatusNotification" {
				action = what
			}
			_, err := c.call(ctx, action, status{"Idle"})
			return err
		}
	default:
		return status{"NotImplemented"}, nil
	}
	return FollowedBy(status{"Accepted"}, func(ctx context.Context) {
		if err := send(ctx); err != nil {
			c.logf(levelWarn, "triggered %s: %v", what, err)
		}
	}), nil
}

// selected returns the connectors a trigger names: all, an EVSE's, or
// one (1.6: conn is the 1.6 connector id and evse is 0).
func (c *Charger) selected(evse, conn int) []*connector {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.is16() && conn > 0:
		return []*connector{c.connector16(conn)}
	case evse > 0 && conn > 0:
		return []*connector{c.connector(evse, conn)}
	case evse > 0:
		return append([]*connector(nil), c.evses[evse-1]...)
	}
	return c.all()
}

func (c *Charger) clearCache() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.model.bool("AuthorizationCacheEnabled") {
		return "Rejected"
	}
	c.authCache = map[string]string{}
	return "Accepted"
}

// sendLocalList applies a local list update (1.6 §5.15, 2.0.1 D01):
// Full replaces the list; Differential adds, changes, and removes entries
// without status, and must carry a newer version.
func (c *Charger) sendLocalList(version int, updateType string, entries map[string]string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.model.bool("LocalAuthListEnabled") {
		return "NotSupported"
	}
	if updateType == "Full" {
		c.localList = map[string]string{}
	} else if version <= c.localVersion {
		return "VersionMismatch"
	}
	for tag, st := range entries {
		if st == "" {
			delete(c.localList, tag)
		} else {
			c.localList[tag] = st
		}
	}
	c.localVersion = version
	return "Accepted"
}

// reserve reserves k for idTag (1.6 §5.13, 2.0.1 H01).
func (c *Charger) reserve(k *connector, id int, idTag string, expiry any, anyEVSE bool) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.model.bool("ReserveConnectorZeroSupported") && anyEVSE {
		return status{"Rejected"}
	}
	switch {
	case k == nil:
		return status{"Rejected"}
	case k.tx != nil:
		return status{"Occupied"}
	case k.inoperative || c.inoperative:
		return status{"Unavailable"}
	case k.reservation != nil && k.reservation.id != id:
		return status{"Occupied"}
	}
	if old := c.reservations[id]; old != nil && old.conn != k {
		old.conn.reservation = nil
	}
	r := &reservation{id: id, idTag: idTag, conn: k, evseAny: anyEVSE}
	k.reservation = r
	c.reservations[id] = r
	return FollowedBy(status{"Accepted"}, func(ctx context.Context) { _ = c.notifyStatus(ctx, k) })
}

func (c *Charger) cancelReservation(id int) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reservations[id]
	if r == nil {
		return status{"Rejected"}
	}
	delete(c.reservations, id)
	r.conn.reservation = nil
	k := r.conn
	return FollowedBy(status{"Accepted"}, func(ctx context.Context) { _ = c.notifyStatus(ctx, k) })
}

// addProfile16 stores a 1.6 charging profile, replacing one with the same
// id or the same purpose and stack level on the connector; c.mu held.
func (c *Charger) addProfile16(conn int, p *v16.ChargingProfile) {
	limit := 0.0
	if len(p.ChargingSchedule.ChargingSchedulePeriod) > 0 {
		limit = p.ChargingSchedule.ChargingSchedulePeriod[0].Limit
	}
	c.putProfile(chargingProfile{id: p.ChargingProfileID, stackLevel: p.StackLevel, purpose: string(p.ChargingProfilePurpose),
		evse: conn, limit: limit, unit: string(p.ChargingSchedule.ChargingRateUnit)})
}

// addProfile2x stores a 2.x charging profile; c.mu held.
func (c *Charger) addProfile2x(evse int, p *v201.ChargingProfileType) {
	limit, unit := 0.0, "W"
	if len(p.ChargingSchedule) > 0 {
		s := p.ChargingSchedule[0]
		unit = string(s.ChargingRateUnit)
		if len(s.ChargingSchedulePeriod) > 0 {
			limit = s.ChargingSchedulePeriod[0].Limit
		}
	}
	c.putProfile(chargingProfile{id: p.ID, stackLevel: p.StackLevel, purpose: string(p.ChargingProfilePurpose),
		evse: evse, limit: limit, unit: unit})
}

func (c *Charger) putProfile(p chargingProfile) {
	out := c.profiles[:0]
	for _, q := range c.profiles {
		if q.id == p.id || (q.evse == p.evse && q.purpose == p.purpose && q.stackLevel == p.stackLevel) {
			continue
		}
		out = append(out, q)
	}
	c.profiles = append(out, p)
}

// clearProfiles removes the profiles matching every criterion given.
func (c *Charger) clearProfiles(id, evse *int, purpose string, level *int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.profiles[:0]
	removed := 0
	for _, p := range c.profiles {
		match := (id == nil || p.id == *id) && (evse == nil || p.evse == *evse) &&
			(purpose == "" || p.purpose == purpose) && (level == nil || p.stackLevel == *level)
		if match {
			removed++
			continue
		}
		out = append(out, p)
	}
	c.profiles = out
	if removed == 0 {
		return "Unknown"
	}
	return "Accepted"
}

// compositeLimit is the lowest first-period limit of the profiles that
// apply to evse (or the station), in unit; the station's maximum without
// any (c.mu held).
func (c *Charger) compositeLimit(evse int, unit string) float64 {
	limit := c.co.PowerW
	if unit == "A" {
		limit = 32
	}
	for _, p := range c.profiles {
		if (p.evse == 0 || p.evse == evse) && p.unit == unit && p.limit < limit {
			limit = p.limit
		}
	}
	return limit
}

// logName is the name of an uploaded log file.
func (c *Charger) logName(kind string, requestID int) string {
	return fmt.Sprintf("%s-%s-%d.log", c.Station.opts.ID, kind, requestID)
}
