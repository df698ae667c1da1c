package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/ocppd/ocppd/ocpp"
)

// Registration statuses of BootNotificationResponse (the same words in
// OCPP 1.6, 2.0.1 and 2.1).
const (
	StatusAccepted = "Accepted"
	StatusPending  = "Pending"
	StatusRejected = "Rejected"
)

// BootResult is the CSMS's answer to BootNotification.
type BootResult struct {
	Status      string        // Accepted, Pending or Rejected
	Interval    time.Duration // heartbeat interval (Accepted) or retry wait (Pending, Rejected)
	CurrentTime time.Time     // the CSMS's clock; zero if it sent none or an unreadable one
	Raw         json.RawMessage
}

// bootRequest2x is BootNotificationRequest of OCPP 2.0.1 and 2.1, fields
// in the order the seed's simulator sends them.
type bootRequest2x struct {
	ChargingStation chargingStation `json:"chargingStation"`
	Reason          string          `json:"reason"`
}

type chargingStation struct {
	Model           string `json:"model"`
	VendorName      string `json:"vendorName"`
	FirmwareVersion string `json:"firmwareVersion,omitempty"`
	SerialNumber    string `json:"serialNumber,omitempty"`
	Modem           *modem `json:"modem,omitempty"`
}

type modem struct {
	ICCID string `json:"iccid,omitempty"`
	IMSI  string `json:"imsi,omitempty"`
}

// bootRequest16 is BootNotification.req of OCPP 1.6.
type bootRequest16 struct {
	ChargePointVendor       string `json:"chargePointVendor"`
	ChargePointModel        string `json:"chargePointModel"`
	ChargePointSerialNumber string `json:"chargePointSerialNumber,omitempty"`
	FirmwareVersion         string `json:"firmwareVersion,omitempty"`
	ICCID                   string `json:"iccid,omitempty"`
	IMSI                    string `json:"imsi,omitempty"`
}

// BootPayload returns the BootNotification request payload the station
// sends in its version. In OCPP 1.6 values longer than the field's
// CiString limit (vendor and model 20, serial 25, firmware 50, iccid and
// imsi 20) are cut so that the payload stays valid: the default vendor
// "Acme Electrical Systems" becomes "Acme Electrical Syst". Send an
// over-long value deliberately with Call.
func (s *Station) BootPayload() json.RawMessage {
	o := s.opts
	var p any
	if o.Version == ocpp.V16 {
		p = bootRequest16{
			ChargePointVendor:       cut(o.Vendor, 20),
			ChargePointModel:        cut(o.Model, 20),
			ChargePointSerialNumber: cut(o.Serial, 25),
			FirmwareVersion:         cut(o.FirmwareVersion, 50),
			ICCID:                   cut(o.ICCID, 20),
			IMSI:                    cut(o.IMSI, 20),
		}
	} else {
		p = bootRequest2x{
			ChargingStation: chargingStation{
				Model:           o.Model,
				VendorName:      o.Vendor,
				FirmwareVersion: o.FirmwareVersion,
				SerialNumber:    o.Serial,
				Modem:           &modem{ICCID: o.ICCID, IMSI: o.IMSI},
			},
			Reason: s.BootReason(),
		}
	}
	b, _ := json.Marshal(p) // plain strings: cannot fail
	return b
}

// SetBootReason sets the reason of the next BootNotifications in OCPP 2.x
// (BootReasonEnumType: PowerUp, RemoteReset, FirmwareUpdate, …); "" is
// PowerUp. OCPP 1.6 has no reason field.
func (s *Station) SetBootReason(reason string) {
	if reason == "" {
		s.bootReason.Store(nil)
		return
	}
	s.bootReason.Store(&reason)
}

// BootReason returns the reason the next 2.x BootNotification carries.
func (s *Station) BootReason() string {
	if r := s.bootReason.Load(); r != nil {
		return *r
	}
	return "PowerUp"
}

// cut returns s cut to at most n characters.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// Boot sends BootNotification and returns the CSMS's answer. It records a
// Rejected status: while Rejected the station does not answer CSMS calls
// (OCPP 1.6 §4.2; OCPP 2.0.1 B03).
func (s *Station) Boot(ctx context.Context) (BootResult, error) {
	raw, err := s.Call(ctx, "BootNotification", s.BootPayload())
	if err != nil {
		return BootResult{}, err
	}
	var resp struct {
		Status      string `json:"status"`
		Interval    *int   `json:"interval"`
		CurrentTime string `json:"currentTime"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return BootResult{}, fmt.Errorf("BootNotification response: %w", err)
	}
	if resp.Status != StatusAccepted && resp.Status != StatusPending && resp.Status != StatusRejected {
		return BootResult{}, fmt.Errorf("BootNotification response: unknown status %q", resp.Status)
	}
	if resp.Interval == nil || *resp.Interval < 0 {
		return BootResult{}, fmt.Errorf("BootNotification response: interval missing or negative")
	}
	s.rejected.Store(resp.Status == StatusRejected)
	res := BootResult{
		Status:   resp.Status,
		Interval: time.Duration(*resp.Interval) * time.Second,
		Raw:      raw,
	}
	res.CurrentTime, _ = parseTime(resp.CurrentTime)
	return res, nil
}

// Heartbeat sends Heartbeat and returns the CSMS's currentTime.
func (s *Station) Heartbeat(ctx context.Context) (time.Time, error) {
	raw, err := s.Call(ctx, "Heartbeat", json.RawMessage("{}"))
	if err != nil {
		return time.Time{}, err
	}
	var resp struct {
		CurrentTime string `json:"currentTime"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return time.Time{}, fmt.Errorf("Heartbeat response: %w", err)
	}
	t, err := parseTime(resp.CurrentTime)
	if err != nil {
		return time.Time{}, fmt.Errorf("Heartbeat response: %w", err)
	}
	return t, nil
}

// StatusNotification reports a connector status. In OCPP 1.6 it sends
// connectorId (connector; evse is not used), errorCode "NoError", status
// and timestamp; in 2.x timestamp, connectorStatus, evseId and
// connectorId. status is passed through (1.6: Available, Preparing,
// Charging, …; 2.x: Available, Occupied, Reserved, Unavailable, Faulted).
func (s *Station) StatusNotification(ctx context.Context, evse, connector int, status string) error {
	ts := s.timestamp()
	var p any
	if s.opts.Version == ocpp.V16 {
		p = struct {
			ConnectorID int    `json:"connectorId"`
			ErrorCode   string `json:"errorCode"`
			Status      string `json:"status"`
			Timestamp   string `json:"timestamp"`
		}{connector, "NoError", status, ts}
	} else {
		p = struct {
			Timestamp       string `json:"timestamp"`
			ConnectorStatus string `json:"connectorStatus"`
			EvseID          int    `json:"evseId"`
			ConnectorID     int    `json:"connectorId"`
		}{ts, status, evse, connector}
	}
	_, err := s.Call(ctx, "StatusNotification", p)
	return err
}

// timestamp returns the station's clock as RFC 3339 UTC ending in Z.
func (s *Station) timestamp() string {
	return s.opts.Now().UTC().Format(time.RFC3339)
}

// parseTime reads an OCPP dateTime. It also accepts the zone-less form the
// seed's gateway sends ("2023-02-16T19:00:18.630818"), taken as UTC.
func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("currentTime %q is not an RFC 3339 date-time", v)
}
