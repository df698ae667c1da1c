package csms

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/message"
	"github.com/ocppd/ocppd/ocpp/v16"
	"github.com/ocppd/ocppd/ocpp/v201"
	"github.com/ocppd/ocppd/ocpp/v21"
	"github.com/ocppd/ocppd/store"
)

// logged lists the station→CSMS notifications that are stored in the
// station's event log (store.StationEvent) and answered with their
// (empty, or fixed) response, per version.
var logged = map[ocpp.Version][]string{
	ocpp.V16: {"FirmwareStatusNotification", "DiagnosticsStatusNotification", "LogStatusNotification",
		"SignedFirmwareStatusNotification"},
	ocpp.V201: {"FirmwareStatusNotification", "LogStatusNotification", "NotifyEvent", "NotifyEVChargingNeeds",
		"NotifyEVChargingSchedule", "NotifyChargingLimit",
		"ClearedChargingLimit", "NotifyCustomerInformation", "NotifyMonitoringReport", "NotifyDisplayMessages",
		"PublishFirmwareStatusNotification"},
	ocpp.V21: {"FirmwareStatusNotification", "LogStatusNotification", "NotifyEvent", "NotifyEVChargingNeeds",
		"NotifyEVChargingSchedule", "NotifyChargingLimit",
		"ClearedChargingLimit", "NotifyCustomerInformation", "NotifyMonitoringReport", "NotifyDisplayMessages",
		"PublishFirmwareStatusNotification", "BatterySwap", "NotifyDERAlarm", "NotifyDERStartStop",
		"NotifyPriorityCharging", "NotifySettlement", "ReportDERControl",
		"PullDynamicScheduleUpdate", "VatNumberValidation", "OpenPeriodicEventStream", "ClosePeriodicEventStream"},
}

func init() {
	for v, actions := range logged {
		for _, a := range actions {
			handle(a, (*Service).logNotification, v)
		}
	}
	handle("DataTransfer", (*Service).dataTransfer, allVersions...)
	handle("SecurityEventNotification", (*Service).securityEvent, allVersions...)
	handle("NotifyReport", (*Service).notifyReport, v2x...)
	handle("ReservationStatusUpdate", (*Service).reservationStatusUpdate, v2x...) // reservations.go
	handle("ReportChargingProfiles", (*Service).reportChargingProfiles, v2x...)   // chargingprofiles.go
}

// peek is what the event log keeps of a notification besides its
// payload: its main status and its time.
type peek struct {
	Status      string    `json:"status"`
	Timestamp   time.Time `json:"timestamp"`
	GeneratedAt time.Time `json:"generatedAt"`
	// NotifyEVChargingNeeds and a few others have no status; their
	// request id or event type says enough.
	EventType string `json:"eventType"`
}

// fixedResponse answers the actions whose response needs more than "{}".
func fixedResponse(v ocpp.Version, action string, req any) any {
	switch action {
	case "NotifyEVChargingNeeds":
		// K17/K18: accepted; ocppd does not compute charging schedules
		// from the EV's needs, so none follows.
		if v == ocpp.V201 {
			return &v201.NotifyEVChargingNeedsResponse{Status: v201.NotifyEVChargingNeedsStatusEnumTypeAccepted}
		}
		return &v21.NotifyEVChargingNeedsResponse{Status: v21.NotifyEVChargingNeedsStatusEnumTypeAccepted}
	case "NotifyEVChargingSchedule":
		if v == ocpp.V201 {
			return &v201.NotifyEVChargingScheduleResponse{Status: v201.GenericStatusEnumTypeAccepted}
		}
		return &v21.NotifyEVChargingScheduleResponse{Status: v21.GenericStatusEnumTypeAccepted}
	case "PullDynamicScheduleUpdate":
		// No dynamic schedules are managed by ocppd: Rejected.
		return &v21.PullDynamicScheduleUpdateResponse{Status: v21.ChargingProfileStatusEnumTypeRejected,
			StatusInfo: &v21.StatusInfoType{ReasonCode: "NoSchedule"}}
	case "OpenPeriodicEventStream":
		// The stream's NotifyPeriodicEventStream SENDs are accepted and
		// logged like any SEND.
		return &v21.OpenPeriodicEventStreamResponse{Status: v21.GenericStatusEnumTypeAccepted}
	case "VatNumberValidation":
		// ocppd cannot validate VAT numbers: Rejected, echoing it.
		p := req.(*v21.VatNumberValidationRequest)
		return &v21.VatNumberValidationResponse{VatNumber: p.VatNumber, EvseID: p.EvseID,
			Status: v21.GenericStatusEnumTypeRejected, StatusInfo: &v21.StatusInfoType{ReasonCode: "NotSupported"}}
	}
	return nil
}

// emptyResponses caches, per version and action, the typed empty
// response (decoded and validated from "{}" once).
var emptyResponses sync.Map // string(v)+" "+action → any

func emptyResponse(v ocpp.Version, action string) (any, error) {
	key := string(v) + " " + action
	if r, ok := emptyResponses.Load(key); ok {
		return r, nil
	}
	r, err := message.DecodeResponse(v, action, []byte(`{}`), ocpp.DecodeOptions{})
	if err != nil {
		return nil, err
	}
	emptyResponses.Store(key, r)
	return r, nil
}

// logNotification stores a notification in the station's event log and
// answers it.
func (s *Service) logNotification(ctx context.Context, r *Request) (any, error) {
	if err := s.logEvent(ctx, r); err != nil {
		return nil, err
	}
	if resp := fixedResponse(r.Version, r.Action, r.Msg); resp != nil {
		return resp, nil
	}
	return emptyResponse(r.Version, r.Action)
}

func (s *Service) logEvent(ctx context.Context, r *Request) error {
	var p peek
	_ = json.Unmarshal(r.Payload, &p) // validated already; best effort
	ts := p.Timestamp
	if ts.IsZero() {
		ts = p.GeneratedAt
	}
	if ts.IsZero() {
		ts = r.Received
	}
	status := p.Status
	if status == "" {
		status = p.EventType
	}
	return s.opts.Store.AddStationEvent(ctx, store.StationEvent{ChargePointID: r.ChargePointID, Action: r.Action,
		Status: status, Timestamp: ts, Payload: r.Payload, ReceivedAt: r.Received})
}

// securityEvent stores a SecurityEventNotification (2.x A04, and the 1.6
// security whitepaper's) in the station's security event log.
func (s *Service) securityEvent(ctx context.Context, r *Request) (any, error) {
	var ev store.SecurityEvent
	switch p := r.Msg.(type) {
	case *v16.SecurityEventNotificationRequest:
		ev = store.SecurityEvent{Type: p.Type, TechInfo: p.TechInfo, Timestamp: p.Timestamp}
	case *v201.SecurityEventNotificationRequest:
		ev = store.SecurityEvent{Type: p.Type, TechInfo: p.TechInfo, Timestamp: p.Timestamp}
	case *v21.SecurityEventNotificationRequest:
		ev = store.SecurityEvent{Type: p.Type, TechInfo: p.TechInfo, Timestamp: p.Timestamp}
	}
	ev.ChargePointID, ev.ReceivedAt = r.ChargePointID, r.Received
	if err := s.opts.Store.AddSecurityEvent(ctx, ev); err != nil {
		return nil, err
	}
	return emptyResponse(r.Version, r.Action)
}

// DataTransferHandler answers a vendor's DataTransfer from a station.
// data is the request's data (1.6: a JSON string; 2.x: any JSON value, or
// nil). It returns the status (Accepted, Rejected, UnknownMessageId) and
// the data to answer with (nil for none; for 1.6 it must be a JSON
// string). An error becomes a CALLERROR.
type DataTransferHandler func(ctx context.Context, cpID, messageID string, data json.RawMessage) (status string, resp json.RawMessage, err error)

// HandleDataTransfer registers h for DataTransfer requests of vendorID.
// Without a handler the answer is UnknownVendorId (1.6 §4.3, 2.0.1
// P01.FR.xx). Register before Start.
func (s *Service) HandleDataTransfer(vendorID string, h DataTransferHandler) {
	s.obsMu.Lock()
	defer s.obsMu.Unlock()
	if s.vendors == nil {
		s.vendors = map[string]DataTransferHandler{}
	}
	s.vendors[vendorID] = h
}

// dataTransfer logs a DataTransfer and hands it to the vendor's handler.
func (s *Service) dataTransfer(ctx context.Context, r *Request) (any, error) {
	var vendor, msgID string
	var data json.RawMessage
	switch p := r.Msg.(type) {
	case *v16.DataTransferRequest:
		vendor, msgID = p.VendorID, p.MessageID
		if p.Data != "" {
			data, _ = json.Marshal(p.Data)
		}
	case *v201.DataTransferRequest:
		vendor, msgID, data = p.VendorID, p.MessageID, p.Data
	case *v21.DataTransferRequest:
		vendor, msgID, data = p.VendorID, p.MessageID, p.Data
	}
	if err := s.logEvent(ctx, r); err != nil {
		return nil, err
	}
	s.obsMu.RLock()
	h := s.vendors[vendor]
	s.obsMu.RUnlock()
	status, out := "UnknownVendorId", json.RawMessage(nil)
	if h != nil {
		var err error
		if status, out, err = h(ctx, r.ChargePointID, msgID, data); err != nil {
			return nil, err
		}
	}
	switch r.Version {
	case ocpp.V16:
		resp := &v16.DataTransferResponse{Status: v16.DataTransferStatus(status)}
		if len(out) > 0 {
			var str string
			if json.Unmarshal(out, &str) == nil {
				resp.Data = str
			}
		}
		return resp, nil
	case ocpp.V201:
		return &v201.DataTransferResponse{Status: v201.DataTransferStatusEnumType(status), Data: out}, nil
	default:
		return &v21.DataTransferResponse{Status: v21.DataTransferStatusEnumType(status), Data: out}, nil
	}
}

// notifyReport stores the device model a station reports (B07/B08: the
// answer to GetBaseReport/GetReport, possibly in several parts) and logs
// the report's arrival.
func (s *Service) notifyReport(ctx context.Context, r *Request) (any, error) {
	var vars []store.DeviceVariable
	add := func(comp, compInst string, evse *int, conn *int, variable, varInst string, attrs, chars any) error {
		a, err := json.Marshal(attrs)
		if err != nil {
			return err
		}
		dv := store.DeviceVariable{ChargePointID: r.ChargePointID, Component: comp, ComponentInstance: compInst,
			EVSE: evse, Connector: conn, Variable: variable, VariableInstance: varInst, Attributes: a, UpdatedAt: r.Received}
		if chars != nil {
			if dv.Characteristics, err = json.Marshal(chars); err != nil {
				return err
			}
		}
		vars = append(vars, dv)
		return nil
	}
	var resp any
	switch p := r.Msg.(type) {
	case *v201.NotifyReportRequest:
		for _, d := range p.ReportData {
			var evse, conn *int
			if d.Component.Evse != nil {
				evse, conn = &d.Component.Evse.ID, d.Component.Evse.ConnectorID
			}
			var chars any
			if d.VariableCharacteristics != nil {
				chars = d.VariableCharacteristics
			}
			if err := add(d.Component.Name, d.Component.Instance, evse, conn, d.Variable.Name, d.Variable.Instance, d.VariableAttribute, chars); err != nil {
				return nil, err
			}
		}
		resp = &v201.NotifyReportResponse{}
	case *v21.NotifyReportRequest:
		for _, d := range p.ReportData {
			var evse, conn *int
			if d.Component.Evse != nil {
				evse, conn = &d.Component.Evse.ID, d.Component.Evse.ConnectorID
			}
			var chars any
			if d.VariableCharacteristics != nil {
				chars = d.VariableCharacteristics
			}
			if err := add(d.Component.Name, d.Component.Instance, evse, conn, d.Variable.Name, d.Variable.Instance, d.VariableAttribute, chars); err != nil {
				return nil, err
			}
		}
		resp = &v21.NotifyReportResponse{}
	}
	if err := s.opts.Store.PutDeviceVariables(ctx, vars); err != nil {
		return nil, err
	}
	if err := s.logEvent(ctx, r); err != nil {
		return nil, err
	}
	return resp, nil
}
