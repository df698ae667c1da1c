package sim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ocppd/ocppd/ocpp/v16"
	"github.com/ocppd/ocppd/ocpp/v201"
)

// maxFirmware bounds a firmware download.
const maxFirmware = 64 << 20

// firmwareStatus sends FirmwareStatusNotification (requestId in 2.x).
func (c *Charger) firmwareStatus(ctx context.Context, st string, requestID *int) error {
	c.mu.Lock()
	c.firmware.Status = st
	c.mu.Unlock()
	var p any
	if c.is16() {
		p = &v16.FirmwareStatusNotificationRequest{Status: v16.FirmwareStatus(st)}
	} else {
		p = &v201.FirmwareStatusNotificationRequest{Status: v201.FirmwareStatusEnumType(st), RequestID: requestID}
	}
	_, err := c.call(ctx, "FirmwareStatusNotification", p)
	return err
}

// updateFirmware waits for the retrieve time, downloads the file over
// HTTP(S) and walks through Downloading, Downloaded, Installing and
// Installed (1.6 §5.19 and 6.x; 2.0.1 L01), or DownloadFailed.
//
// A new update cancels the one in progress (2.0.1 L01.FR.24: the answer
// is then AcceptedCanceled).
func (c *Charger) updateFirmware(ctx context.Context, location string, retrieve time.Time, requestID *int) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.mu.Lock()
	if c.fwCancel != nil {
		c.fwCancel()
	}
	c.fwCancel = cancel
	c.firmware = FirmwareState{Location: location, InProgress: true}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.firmware.Location == location {
			c.firmware.InProgress = false
		}
		c.mu.Unlock()
	}()
	if d := retrieve.Sub(c.now()); d > 0 && !c.Station.sleep(ctx, d) {
		return
	}
	step := func(st string) bool {
		if err := c.firmwareStatus(ctx, st, requestID); err != nil {
			c.logf(levelWarn, "FirmwareStatusNotification %s: %v", st, err)
		}
		return c.co.StepDelay <= 0 || c.Station.sleep(ctx, c.co.StepDelay)
	}
	if !step("Downloading") {
		return
	}
	data, err := c.download(ctx, location)
	if err != nil {
		c.logf(levelWarn, "firmware download: %v", err)
		step("DownloadFailed")
		return
	}
	c.mu.Lock()
	c.firmware.Data, c.firmware.Size = data, len(data)
	c.mu.Unlock()
	for _, st := range []string{"Downloaded", "Installing", "Installed"} {
		if !step(st) {
			return
		}
	}
}

func (c *Charger) download(ctx context.Context, location string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", location, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download %s: %s", location, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxFirmware+1))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", location, err)
	}
	if len(data) > maxFirmware {
		return nil, fmt.Errorf("download %s: larger than %d bytes", location, maxFirmware)
	}
	return data, nil
}

// uploadLog uploads a small log file to location with HTTP PUT (the file
// name is appended when location ends with '/') and reports Uploading
// then Uploaded or the failure in action (1.6 DiagnosticsStatusNotification
// §5.9; LogStatusNotification of 2.0.1 N01 and the 1.6 security
// extension).
func (c *Charger) uploadLog(ctx context.Context, location, name string, requestID *int, action string) {
	notify := func(st string) {
		var p any
		switch {
		case action == "DiagnosticsStatusNotification":
			p = &v16.DiagnosticsStatusNotificationRequest{Status: v16.DiagnosticsStatus(st)}
		case c.is16():
			p = &v16.LogStatusNotificationRequest{Status: v16.UploadLogStatusEnumType(st), RequestID: requestID}
		default:
			p = &v201.LogStatusNotificationRequest{Status: v201.UploadLogStatusEnumType(st), RequestID: requestID}
		}
		if _, err := c.call(ctx, action, p); err != nil {
			c.logf(levelWarn, "%s %s: %v", action, st, err)
		}
	}
	notify("Uploading")
	if c.co.StepDelay > 0 && !c.Station.sleep(ctx, c.co.StepDelay) {
		return
	}
	err := c.upload(ctx, location, name, c.logContent())
	st := "Uploaded"
	if err != nil {
		c.logf(levelWarn, "log upload: %v", err)
		st = "UploadFailure"
		if action == "DiagnosticsStatusNotification" {
			st = "UploadFailed"
		}
	}
	c.mu.Lock()
	c.logs = append(c.logs, LogUpload{Location: location, Filename: name, Status: st})
	c.mu.Unlock()
	notify(st)
}

// logContent is the uploaded log: a few lines about the station.
func (c *Charger) logContent() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b bytes.Buffer
	o := c.Station.opts
	fmt.Fprintf(&b, "%s station %s (%s %s, firmware %s, %s)\n", c.ts().Format(time.RFC3339), o.ID, o.Vendor, o.Model, o.FirmwareVersion, o.Version)
	fmt.Fprintf(&b, "boots accepted: %d\n", c.boots)
	for _, k := range c.all() {
		fmt.Fprintf(&b, "evse %d connector %d: %s, meter %d Wh\n", k.evse, k.id, c.statusOf(k), int(k.meterWh))
	}
	return b.Bytes()
}

func (c *Charger) upload(ctx context.Context, location, name string, body []byte) error {
	if strings.HasSuffix(location, "/") {
		location += name
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, location, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("upload to %s: %w", location, err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("upload to %s: %s", location, resp.Status)
	}
	return nil
}
