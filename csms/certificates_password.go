package csms

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/auth"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/store"
)

// Password rotation from the CSMS (1.6 security whitepaper A01, 2.0.1 A01):
// the new password goes to the station in ChangeConfiguration
// AuthorizationKey (1.6) or SetVariables SecurityCtrlr.BasicAuthPassword
// (2.x). Until the station answers, the old and the new password are both
// accepted; Accepted makes the new one the only one (A01.FR.03), a refusal
// keeps the old one (A01.FR.04); a station that reconnects with the new
// password completes the rotation too (package auth).

// redactedPrefix replaces the password in the stored command; the rest
// of the value is a fingerprint of the pending hash, so that the answer
// resolves exactly the rotation it belongs to.
const redactedPrefix = "[redacted:"

// RotatePassword sets a new HTTP Basic password for the station: password,
// or a generated one when it is "". It must be valid for the station's
// OCPP version (auth.ValidatePassword; maxLen is the station's
// BasicAuthPassword maxLimit for 2.x, 0 for the default 40). The station
// must be online. It returns the command (whose stored request has the
// password redacted) and the password, which the caller shows once and
// never stores.
//
// Errors: ENOTFOUND for an unknown station, EUNAVAILABLE when it is
// offline, EINVALID for a password that breaks the version's rules.
func (s *Service) RotatePassword(ctx context.Context, cpID, password string, maxLen int) (Command, string, error) {
	cp, err := s.opts.Store.GetChargePoint(ctx, cpID)
	if err != nil {
		return Command{}, "", fmt.Errorf("rotate password of %s: %w", cpID, err)
	}
	if !cp.Online || cp.Protocol == "" {
		return Command{}, "", ocppd.Errorf(ocppd.EUNAVAILABLE, "station %s is offline: its password can only be changed while it is connected", cpID)
	}
	v := ocpp.Version(cp.Protocol)
	if password == "" {
		if password, err = auth.GeneratePassword(v); err != nil {
			return Command{}, "", err
		}
	}
	if err := auth.ValidatePassword(v, password, maxLen); err != nil {
		return Command{}, "", err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return Command{}, "", err
	}
	now := s.opts.Now()
	if err := s.opts.Store.SetPendingPassword(ctx, cpID, hash, now); err != nil {
		return Command{}, "", fmt.Errorf("rotate password of %s: %w", cpID, err)
	}
	mark := redactedPrefix + fingerprint(hash) + "]"
	var action string
	var real, stored any
	if v == ocpp.V16 {
		action = "ChangeConfiguration"
		real = map[string]string{"key": "AuthorizationKey", "value": password}
		stored = map[string]string{"key": "AuthorizationKey", "value": mark}
	} else {
		action = "SetVariables"
		item := func(val string) any {
			return map[string]any{"setVariableData": []any{map[string]any{
				"attributeValue": val,
				"component":      map[string]string{"name": "SecurityCtrlr"},
				"variable":       map[string]string{"name": "BasicAuthPassword"},
			}}}
		}
		real, stored = item(password), item(mark)
	}
	realJSON, _ := json.Marshal(real)
	storedJSON, _ := json.Marshal(stored)
	// The command is stored already sent and with the password redacted:
	// it never waits in the queue (which would send the redacted value),
	// and the password is in no table. The CALL itself is published here.
	c := Command{
		ID: newMessageID(), ChargePointID: cpID, Protocol: string(v), Action: action, Request: storedJSON,
		State: store.CommandSent, CreatedAt: now, SentAt: now,
		Deadline: now.Add(s.opts.CommandTimeout), Timeout: s.opts.CommandTimeout,
	}
	if err := s.opts.Store.AddCommand(ctx, c); err != nil {
		return Command{}, "", fmt.Errorf("rotate password of %s: %w", cpID, err)
	}
	err = s.opts.Bus.Publish(ctx, bus.Message{
		Topic:   s.opts.Topics.Out(cpID),
		Payload: ocpp.AppendCall(nil, c.ID, action, realJSON),
		Props:   map[string]string{bus.PropVersion: string(v)},
	})
	if err != nil {
		_ = s.opts.Store.ResolvePendingPassword(ctx, cpID, hash, false, s.opts.Now())
		s.finish(context.WithoutCancel(ctx), cpID, c.ID, store.CommandOutcome{
			State: store.CommandFailed, ErrorDescription: "could not publish the command: " + err.Error(), At: s.opts.Now()})
		return Command{}, "", fmt.Errorf("rotate password of %s: %w", cpID, err)
	}
	s.log.Info("password rotation sent; old and new password accepted until the station answers", "cp", cpID, "action", action, "id", c.ID)
	return c, password, nil
}

// fingerprint is a short, non-secret tag of a password hash (the end of
// its random salt and key).
func fingerprint(hash string) string {
	if len(hash) < 12 {
		return hash
	}
	return hash[len(hash)-12:]
}

// passwordAnswer resolves a rotation when the station answered its
// ChangeConfiguration AuthorizationKey or SetVariables BasicAuthPassword.
func (s *Service) passwordAnswer(ctx context.Context, c Command) {
	mark, ok := redactedMark(c)
	if !ok {
		return // not a rotation
	}
	creds, err := s.opts.Store.GetCredentials(ctx, c.ChargePointID)
	if err != nil || creds.PendingHash == "" || redactedPrefix+fingerprint(creds.PendingHash)+"]" != mark {
		s.log.Info("answer to an earlier password rotation; ignored", "cp", c.ChargePointID, "id", c.ID)
		return
	}
	status := answerStatus(c)
	var accepted bool
	switch {
	case c.State == store.CommandAnswered && status == "Accepted":
		accepted = true
	case c.State == store.CommandAnswered && status == "RebootRequired",
		c.State == store.CommandTimedOut:
		// The station may use the new password after a reboot, or did
		// not say: both stay valid until it connects with the new one.
		s.log.Info("password rotation not confirmed yet; old and new password stay valid", "cp", c.ChargePointID, "state", c.State, "status", status)
		return
	}
	if err := s.opts.Store.ResolvePendingPassword(ctx, c.ChargePointID, creds.PendingHash, accepted, s.opts.Now()); err != nil {
		s.log.Warn("resolving password rotation failed", "cp", c.ChargePointID, "err", err)
		return
	}
	if accepted {
		s.log.Info("station accepted its new password; the old one no longer works", "cp", c.ChargePointID)
	} else {
		s.log.Warn("station refused its new password; it keeps the old one", "cp", c.ChargePointID, "state", c.State, "status", status, "error", c.ErrorCode)
	}
}

// redactedMark returns the redacted value of a rotation command.
func redactedMark(c Command) (string, bool) {
	switch c.Action {
	case "ChangeConfiguration":
		var req struct{ Key, Value string }
		if json.Unmarshal(c.Request, &req) != nil || req.Key != "AuthorizationKey" {
			return "", false
		}
		return req.Value, strings.HasPrefix(req.Value, redactedPrefix)
	case "SetVariables":
		var req struct {
			SetVariableData []struct {
				AttributeValue string `json:"attributeValue"`
				Variable       struct {
					Name string `json:"name"`
				} `json:"variable"`
			} `json:"setVariableData"`
		}
		if json.Unmarshal(c.Request, &req) != nil || len(req.SetVariableData) != 1 ||
			req.SetVariableData[0].Variable.Name != "BasicAuthPassword" {
			return "", false
		}
		v := req.SetVariableData[0].AttributeValue
		return v, strings.HasPrefix(v, redactedPrefix)
	}
	return "", false
}

// answerStatus returns the status of a ChangeConfiguration or SetVariables
// answer.
func answerStatus(c Command) string {
	var resp struct {
		Status            string `json:"status"`
		SetVariableResult []struct {
			AttributeStatus string `json:"attributeStatus"`
		} `json:"setVariableResult"`
	}
	_ = json.Unmarshal(c.Response, &resp)
	if len(resp.SetVariableResult) > 0 {
		return resp.SetVariableResult[0].AttributeStatus
	}
	return resp.Status
}
