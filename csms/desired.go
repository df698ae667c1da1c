package csms

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/shadow"
	"github.com/ocppd/ocppd/store"
)

// The desired state drives the station. Document layout (see
// docs/shadows-and-rules.md):
//
//	desired.configuration.<key>              1.6: ChangeConfiguration
//	desired.variables.<component>.<variable> 2.x: SetVariables (Actual attribute)
//	desired.firmware.version, .location      UpdateFirmware from location
//
//	reported.configuration.<key>             the value the station has
//	reported.configurationStatus.<key>       {value, status, commandId, timestamp[, error]}
//	reported.variables.<component>.<variable>
//	reported.variablesStatus.<component>.<variable>
//	reported.firmware.version                from BootNotification, once desired.firmware is set
//	reported.firmware.location               of the last update the station accepted
//	reported.firmware.status                 last FirmwareStatusNotification
//	reported.firmware.update                 {version, location, status, commandId, requestId, timestamp}
//	reported.connectors.<id>                 last StatusNotification per connector
//	reported.security.lastEvent              last SecurityEventNotification
//
// A desired value that differs from the reported one (it is in the delta)
// is sent when the shadow's desired state is updated and the station is
// online (a command for an offline station waits in the command queue and
// goes out when it connects), and again when the station boots. The
// answer is recorded in the *Status sections; Accepted and RebootRequired
// also set the reported value, which clears the delta. A value the station
// refused (Rejected, NotSupported, UnknownComponent, …) stays in the delta
// and its status shows why; it is not sent again until the desired value
// changes. A command that failed or timed out is retried when the station
// next boots, not in a loop. A value already on its way (a queued or sent
// command) is not sent twice.

// Outcome statuses recorded by the CSMS itself (the others are the
// station's answers).
const (
	statusFailed   = "Failed"   // CALLERROR or invalid answer
	statusTimedOut = "TimedOut" // no answer in time
	statusInvalid  = "Invalid"  // the CSMS could not build a valid request from the desired value
	statusPending  = "Pending"  // firmware update sent, no answer yet
)

// observe registers the runtime's hooks on the Service.
func (sh *Shadows) observe() {
	s := sh.svc
	s.OnCall("BootNotification", sh.onBoot)
	s.OnCall("StatusNotification", sh.onStatus)
	s.OnCall("NotifyReport", sh.onNotifyReport)
	s.OnCall("FirmwareStatusNotification", sh.onFirmwareStatus)
	s.OnCall("SecurityEventNotification", sh.onSecurityEvent)
	s.OnAnswer("ChangeConfiguration", sh.onChangeConfiguration)
	s.OnAnswer("SetVariables", sh.onSetVariables)
	s.OnAnswer("GetConfiguration", sh.onGetConfiguration)
	s.OnAnswer("GetVariables", sh.onGetVariables)
	s.OnAnswer("UpdateFirmware", sh.onUpdateFirmware)
}

// Reconcile sends the station what its desired state asks for and it has
// not got yet (see the comment at the top of desired.go), as if the
// station had just booted: commands that failed or timed out are retried.
func (sh *Shadows) Reconcile(ctx context.Context, cp string) error {
	return sh.reconcile(ctx, cp, true)
}

// reconcile compares desired with reported and sends what differs. boot
// says the station just booted: failed and timed-out values are retried.
func (sh *Shadows) reconcile(ctx context.Context, cp string, boot bool) error {
	rec, err := sh.svc.opts.Store.GetChargePoint(ctx, cp)
	if err != nil {
		return err
	}
	v := ocpp.Version(rec.Protocol)
	if v == "" || rec.Registration == ocppd.RegistrationRejected {
		return nil // never connected (its version is unknown), or nothing may be sent to it
	}
	doc, err := sh.GetShadow(ctx, cp)
	if err != nil {
		return err
	}
	delta := doc.Delta()
	if delta == nil {
		return nil
	}
	var errs []error
	if v == ocpp.V16 {
		errs = append(errs, sh.pushConfiguration(ctx, cp, doc, asObject(delta["configuration"]), boot))
	} else {
		errs = append(errs, sh.pushVariables(ctx, cp, doc, asObject(delta["variables"]), boot))
	}
	if _, ok := asObject(delta["firmware"])["version"]; ok {
		errs = append(errs, sh.pushFirmware(ctx, cp, v, doc, boot))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// retry decides whether to send want, given the status recorded for the
// last attempt and whether one is on its way.
func retry(want string, status map[string]any, inflight, boot bool) bool {
	if inflight {
		return false
	}
	if status == nil || asString(status["value"]) != want {
		return true // never tried, or the desired value changed since
	}
	switch status["status"] {
	case "Accepted", "RebootRequired", statusFailed, statusTimedOut, statusPending:
		// Accepted yet different: the station changed it since. Failed:
		// maybe better luck after a reboot. Never in a loop.
		return boot
	}
	return false // refused by the station (or invalid): visible, not retried
}

// inflight returns the requests of action to cp that are queued or sent.
func (sh *Shadows) inflight(ctx context.Context, cp, action string) ([]Command, error) {
	var out []Command
	for _, st := range []store.CommandState{store.CommandQueued, store.CommandSent} {
		cmds, err := sh.svc.ListCommands(ctx, store.CommandFilter{ChargePointID: cp, Action: action, State: st, Limit: 500})
		if err != nil {
			return nil, err
		}
		out = append(out, cmds...)
	}
	return out, nil
}

// pushConfiguration sends ChangeConfiguration (1.6) for the configuration
// keys in the delta.
func (sh *Shadows) pushConfiguration(ctx context.Context, cp string, doc shadow.Document, delta map[string]any, boot bool) error {
	if len(delta) == 0 {
		return nil
	}
	cmds, err := sh.inflight(ctx, cp, "ChangeConfiguration")
	if err != nil {
		return err
	}
	busy := map[string]string{}
	for _, c := range cmds {
		var r struct{ Key, Value string }
		if json.Unmarshal(c.Request, &r) == nil {
			busy[r.Key] = r.Value
		}
	}
	statuses := asObject(doc.State.Reported["configurationStatus"])
	for _, key := range shadowKeys(delta) {
		want := asString(delta[key])
		cur, ok := busy[key]
		if !retry(want, asObject(statuses[key]), ok && cur == want, boot) {
			continue
		}
		_, err := sh.svc.Send(ctx, cp, "ChangeConfiguration", map[string]string{"key": key, "value": want})
		if err != nil {
			sh.sendFailed(ctx, cp, err, func(e map[string]any) map[string]any {
				return map[string]any{"configurationStatus": map[string]any{key: e}}
			}, want)
		}
	}
	return nil
}

// sendFailed records a desired value the CSMS could not send: an invalid
// request is recorded as Invalid (not retried); anything else is logged
// and retried at the next boot.
func (sh *Shadows) sendFailed(ctx context.Context, cp string, err error, at func(entry map[string]any) map[string]any, want string) {
	if ocppd.ErrorCode(err) != ocppd.EINVALID {
		sh.log.Warn("sending a desired value failed", "cp", cp, "err", err)
		return
	}
	sh.report(ctx, cp, at(map[string]any{"value": want, "status": statusInvalid, "error": ocppd.ErrorMessage(err),
		"timestamp": shadowTime(sh.svc.opts.Now())}))
}

type variableRef struct{ component, variable string }

// pushVariables sends SetVariables (2.x) for the variables in the delta,
// SetVariablesBatch at a time.
func (sh *Shadows) pushVariables(ctx context.Context, cp string, doc shadow.Document, delta map[string]any, boot bool) error {
	if len(delta) == 0 {
		return nil
	}
	cmds, err := sh.inflight(ctx, cp, "SetVariables")
	if err != nil {
		return err
	}
	busy := map[variableRef]string{}
	for _, c := range cmds {
		for _, d := range setVariableData(c.Request) {
			if ref, ok := d.ref(); ok {
				busy[ref] = d.AttributeValue
			}
		}
	}
	statuses := asObject(doc.State.Reported["variablesStatus"])
	type item struct {
		ref  variableRef
		want string
	}
	var todo []item
	for _, comp := range shadowKeys(delta) {
		vars := asObject(delta[comp])
		for _, name := range shadowKeys(vars) {
			ref, want := variableRef{comp, name}, asString(vars[name])
			cur, ok := busy[ref]
			if retry(want, asObject(asObject(statuses[comp])[name]), ok && cur == want, boot) {
				todo = append(todo, item{ref, want})
			}
		}
	}
	for len(todo) > 0 {
		n := min(len(todo), sh.opts.SetVariablesBatch)
		batch := todo[:n]
		todo = todo[n:]
		data := make([]map[string]any, len(batch))
		for i, it := range batch {
			data[i] = map[string]any{
				"attributeValue": it.want,
				"component":      map[string]any{"name": it.ref.component},
				"variable":       map[string]any{"name": it.ref.variable},
			}
		}
		if _, err := sh.svc.Send(ctx, cp, "SetVariables", map[string]any{"setVariableData": data}); err != nil {
			for _, it := range batch {
				sh.sendFailed(ctx, cp, err, func(e map[string]any) map[string]any {
					return map[string]any{"variablesStatus": map[string]any{it.ref.component: map[string]any{it.ref.variable: e}}}
				}, it.want)
			}
		}
	}
	return nil
}

// pushFirmware sends UpdateFirmware for a desired firmware version that
// the station does not report.
func (sh *Shadows) pushFirmware(ctx context.Context, cp string, v ocpp.Version, doc shadow.Document, boot bool) error {
	want := asObject(doc.State.Desired["firmware"])
	version, location := asString(want["version"]), asString(want["location"])
	upd := asObject(asObject(doc.State.Reported["firmware"])["update"])
	cmds, err := sh.inflight(ctx, cp, "UpdateFirmware")
	if err != nil {
		return err
	}
	if !retry(version, upd, len(cmds) > 0, boot) {
		return nil
	}
	now := sh.svc.opts.Now()
	entry := map[string]any{"version": version, "location": location, "timestamp": shadowTime(now)}
	if location == "" {
		entry["value"], entry["status"], entry["error"] = version, statusInvalid, "desired.firmware.location (the URL of the firmware) is required"
		sh.report(ctx, cp, map[string]any{"firmware": map[string]any{"update": entry}})
		return nil
	}
	var req any
	if v == ocpp.V16 {
		req = map[string]any{"location": location, "retrieveDate": shadowTime(now)}
	} else {
		id := rand.Int32N(1 << 30)
		entry["requestId"] = id
		req = map[string]any{"requestId": id, "firmware": map[string]any{"location": location, "retrieveDateTime": shadowTime(now)}}
	}
	// Record the attempt first: the answer carries no version.
	entry["value"], entry["status"] = version, statusPending
	c, err := sh.svc.Send(ctx, cp, "UpdateFirmware", req)
	if err != nil {
		if ocppd.ErrorCode(err) != ocppd.EINVALID {
			return err
		}
		entry["status"], entry["error"] = statusInvalid, ocppd.ErrorMessage(err)
	} else {
		entry["commandId"] = c.ID
	}
	sh.report(ctx, cp, map[string]any{"firmware": map[string]any{"update": entry}})
	return nil
}

// outcome returns the status to record for a finished command whose
// answer carries status in its "status" field (or not, for 1.6
// UpdateFirmware), and an error text for failures.
func outcome(c Command, answered func() string) (status, errText string) {
	switch c.State {
	case store.CommandAnswered:
		return answered(), ""
	case store.CommandTimedOut:
		return statusTimedOut, "no answer in time"
	default:
		if c.ErrorCode != "" {
			return statusFailed, c.ErrorCode + ": " + c.ErrorDescription
		}
		return statusFailed, c.ErrorDescription
	}
}

func (sh *Shadows) entry(c Command, value, status, errText string) map[string]any {
	e := map[string]any{"value": value, "status": status, "commandId": c.ID, "timestamp": shadowTime(sh.svc.opts.Now())}
	if errText != "" {
		e["error"] = errText
	}
	return e
}

// applied reports whether a station's answer status means the value is
// now set.
func applied(status string) bool { return status == "Accepted" || status == "RebootRequired" }

func (sh *Shadows) onChangeConfiguration(ctx context.Context, c Command) {
	var req struct{ Key, Value string }
	if json.Unmarshal(c.Request, &req) != nil || req.Key == "" {
		return
	}
	status, errText := outcome(c, func() string {
		var r struct{ Status string }
		_ = json.Unmarshal(c.Response, &r)
		return r.Status
	})
	e := sh.entry(c, req.Value, status, errText)
	_, err := sh.modify(ctx, c.ChargePointID, func(doc shadow.Document) (shadow.Update, bool, error) {
		rep := map[string]any{"configurationStatus": map[string]any{req.Key: e}}
		if applied(status) {
			rep["configuration"] = map[string]any{req.Key: reportedValue(asObject(doc.State.Desired["configuration"])[req.Key], req.Value)}
		}
		return shadow.Update{State: shadow.UpdateState{Reported: rep}}, true, nil
	})
	if err != nil {
		sh.log.Warn("recording a ChangeConfiguration outcome failed", "cp", c.ChargePointID, "err", err)
	}
}

// variableData is a SetVariableData, SetVariableResult, GetVariableResult
// or ReportData entry, reduced to what the shadow uses.
type variableData struct {
	AttributeType   string `json:"attributeType"`
	AttributeValue  string `json:"attributeValue"`
	AttributeStatus string `json:"attributeStatus"`
	Component       struct {
		Name     string          `json:"name"`
		Instance string          `json:"instance"`
		EVSE     json.RawMessage `json:"evse"`
	} `json:"component"`
	Variable struct {
		Name     string `json:"name"`
		Instance string `json:"instance"`
	} `json:"variable"`
	StatusInfo *struct {
		ReasonCode string `json:"reasonCode"`
	} `json:"attributeStatusInfo"`
	VariableAttribute []struct {
		Type  string  `json:"type"`
		Value *string `json:"value"`
	} `json:"variableAttribute"`
}

// ref returns the shadow's name of the variable: only the Actual attribute
// of components and variables without instance or EVSE have one.
func (d variableData) ref() (variableRef, bool) {
	if d.Component.Instance != "" || len(d.Component.EVSE) > 0 || d.Variable.Instance != "" ||
		(d.AttributeType != "" && d.AttributeType != "Actual") || d.Component.Name == "" || d.Variable.Name == "" {
		return variableRef{}, false
	}
	return variableRef{d.Component.Name, d.Variable.Name}, true
}

func setVariableData(req json.RawMessage) []variableData {
	var r struct {
		SetVariableData []variableData `json:"setVariableData"`
	}
	_ = json.Unmarshal(req, &r)
	return r.SetVariableData
}

func (sh *Shadows) onSetVariables(ctx context.Context, c Command) {
	reqs := setVariableData(c.Request)
	var resp struct {
		SetVariableResult []variableData `json:"setVariableResult"`
	}
	_ = json.Unmarshal(c.Response, &resp)
	answers := map[variableRef]variableData{}
	for _, r := range resp.SetVariableResult {
		if ref, ok := r.ref(); ok {
			answers[ref] = r
		}
	}
	_, err := sh.modify(ctx, c.ChargePointID, func(doc shadow.Document) (shadow.Update, bool, error) {
		statuses, values := map[string]any{}, map[string]any{}
		desired := asObject(doc.State.Desired["variables"])
		for _, d := range reqs {
			ref, ok := d.ref()
			if !ok {
				continue
			}
			a, answered := answers[ref]
			status, errText := outcome(c, func() string {
				if !answered {
					return statusFailed
				}
				return a.AttributeStatus
			})
			if c.State == store.CommandAnswered && !answered {
				errText = "the station's answer has no result for this variable"
			}
			if answered && a.StatusInfo != nil && a.StatusInfo.ReasonCode != "" {
				errText = a.StatusInfo.ReasonCode
			}
			setIn(statuses, ref, sh.entry(c, d.AttributeValue, status, errText))
			if applied(status) {
				setIn(values, ref, reportedValue(asObject(desired[ref.component])[ref.variable], d.AttributeValue))
			}
		}
		if len(statuses) == 0 {
			return shadow.Update{}, false, nil
		}
		rep := map[string]any{"variablesStatus": statuses}
		if len(values) > 0 {
			rep["variables"] = values
		}
		return shadow.Update{State: shadow.UpdateState{Reported: rep}}, true, nil
	})
	if err != nil {
		sh.log.Warn("recording a SetVariables outcome failed", "cp", c.ChargePointID, "err", err)
	}
}

func setIn(m map[string]any, ref variableRef, v any) {
	comp, _ := m[ref.component].(map[string]any)
	if comp == nil {
		comp = map[string]any{}
		m[ref.component] = comp
	}
	comp[ref.variable] = v
}

// reportVariables merges variable values read from the station into
// reported.variables.
func (sh *Shadows) reportVariables(ctx context.Context, cp string, vals map[variableRef]string) {
	if len(vals) == 0 {
		return
	}
	_, err := sh.modify(ctx, cp, func(doc shadow.Document) (shadow.Update, bool, error) {
		desired := asObject(doc.State.Desired["variables"])
		out := map[string]any{}
		for ref, v := range vals {
			setIn(out, ref, reportedValue(asObject(desired[ref.component])[ref.variable], v))
		}
		return shadow.Update{State: shadow.UpdateState{Reported: map[string]any{"variables": out}}}, true, nil
	})
	if err != nil {
		sh.log.Warn("recording variables failed", "cp", cp, "err", err)
	}
}

func (sh *Shadows) onGetVariables(ctx context.Context, c Command) {
	if c.State != store.CommandAnswered {
		return
	}
	var resp struct {
		GetVariableResult []variableData `json:"getVariableResult"`
	}
	_ = json.Unmarshal(c.Response, &resp)
	vals := map[variableRef]string{}
	for _, r := range resp.GetVariableResult {
		if ref, ok := r.ref(); ok && r.AttributeStatus == "Accepted" {
			vals[ref] = r.AttributeValue
		}
	}
	sh.reportVariables(ctx, c.ChargePointID, vals)
}

func (sh *Shadows) onNotifyReport(ctx context.Context, r *Request, _ json.RawMessage) {
	var p struct {
		ReportData []variableData `json:"reportData"`
	}
	_ = json.Unmarshal(r.Payload, &p)
	vals := map[variableRef]string{}
	for _, d := range p.ReportData {
		for _, a := range d.VariableAttribute {
			d.AttributeType = a.Type
			if ref, ok := d.ref(); ok && a.Value != nil {
				vals[ref] = *a.Value
			}
		}
	}
	sh.reportVariables(ctx, r.ChargePointID, vals)
}

func (sh *Shadows) onGetConfiguration(ctx context.Context, c Command) {
	if c.State != store.CommandAnswered {
		return
	}
	var resp struct {
		ConfigurationKey []struct {
			Key   string  `json:"key"`
			Value *string `json:"value"`
		} `json:"configurationKey"`
	}
	_ = json.Unmarshal(c.Response, &resp)
	vals := map[string]string{}
	for _, k := range resp.ConfigurationKey {
		if k.Key != "" && k.Value != nil {
			vals[k.Key] = *k.Value
		}
	}
	if len(vals) == 0 {
		return
	}
	_, err := sh.modify(ctx, c.ChargePointID, func(doc shadow.Document) (shadow.Update, bool, error) {
		desired := asObject(doc.State.Desired["configuration"])
		out := map[string]any{}
		for k, v := range vals {
			out[k] = reportedValue(desired[k], v)
		}
		return shadow.Update{State: shadow.UpdateState{Reported: map[string]any{"configuration": out}}}, true, nil
	})
	if err != nil {
		sh.log.Warn("recording the configuration failed", "cp", c.ChargePointID, "err", err)
	}
}

func (sh *Shadows) onUpdateFirmware(ctx context.Context, c Command) {
	status, errText := outcome(c, func() string {
		var r struct{ Status string }
		_ = json.Unmarshal(c.Response, &r)
		if r.Status == "" {
			return "Accepted" // 1.6: an empty answer
		}
		return r.Status
	})
	_, err := sh.modify(ctx, c.ChargePointID, func(doc shadow.Document) (shadow.Update, bool, error) {
		fw := asObject(doc.State.Reported["firmware"])
		upd := asObject(fw["update"])
		if upd["commandId"] != c.ID {
			return shadow.Update{}, false, nil // not the shadow's update (an operator's command)
		}
		e := map[string]any{"status": status, "timestamp": shadowTime(sh.svc.opts.Now())}
		if errText != "" {
			e["error"] = errText
		}
		rep := map[string]any{"update": e}
		if status == "Accepted" || status == "AcceptedCanceled" {
			rep["location"] = upd["location"]
		}
		return shadow.Update{State: shadow.UpdateState{Reported: map[string]any{"firmware": rep}}}, true, nil
	})
	if err != nil {
		sh.log.Warn("recording an UpdateFirmware outcome failed", "cp", c.ChargePointID, "err", err)
	}
}

// onBoot records the firmware version and pushes the desired state to a
// station that was just accepted (or is Pending, which 2.x lets the CSMS
// configure before accepting it).
func (sh *Shadows) onBoot(ctx context.Context, r *Request, response json.RawMessage) {
	var resp struct{ Status string }
	_ = json.Unmarshal(response, &resp)
	if resp.Status != "Accepted" && resp.Status != "Pending" {
		return
	}
	var p struct {
		FirmwareVersion string `json:"firmwareVersion"` // 1.6
		ChargingStation struct {
			FirmwareVersion string `json:"firmwareVersion"`
		} `json:"chargingStation"` // 2.x
	}
	_ = json.Unmarshal(r.Payload, &p)
	fw := p.FirmwareVersion
	if r.Version != ocpp.V16 {
		fw = p.ChargingStation.FirmwareVersion
	}
	if fw != "" {
		// Only for stations whose firmware the shadow manages: otherwise
		// reported stays exactly the seed's BootNotification request.
		_, err := sh.modify(ctx, r.ChargePointID, func(doc shadow.Document) (shadow.Update, bool, error) {
			if doc.State.Desired["firmware"] == nil && doc.State.Reported["firmware"] == nil {
				return shadow.Update{}, false, nil
			}
			return shadow.Update{State: shadow.UpdateState{Reported: map[string]any{"firmware": map[string]any{"version": fw}}}}, true, nil
		})
		if err != nil {
			sh.log.Warn("recording the firmware version failed", "cp", r.ChargePointID, "err", err)
		}
	}
	if err := sh.reconcile(ctx, r.ChargePointID, true); err != nil {
		sh.log.Warn("pushing the desired state after boot failed", "cp", r.ChargePointID, "err", err)
	}
}

func (sh *Shadows) onStatus(ctx context.Context, r *Request, _ json.RawMessage) {
	var p struct {
		ConnectorID     *int   `json:"connectorId"`
		EVSEID          *int   `json:"evseId"`
		Status          string `json:"status"`
		ConnectorStatus string `json:"connectorStatus"`
		ErrorCode       string `json:"errorCode"`
		Timestamp       string `json:"timestamp"`
	}
	if json.Unmarshal(r.Payload, &p) != nil || p.ConnectorID == nil {
		return
	}
	key := strconv.Itoa(*p.ConnectorID)
	e := map[string]any{"status": p.Status}
	if r.Version == ocpp.V16 {
		e["errorCode"] = p.ErrorCode
	} else {
		if p.EVSEID == nil {
			return
		}
		key = strconv.Itoa(*p.EVSEID) + "/" + key
		e["status"] = p.ConnectorStatus
	}
	e["timestamp"] = p.Timestamp
	if p.Timestamp == "" {
		e["timestamp"] = shadowTime(r.Received)
	}
	sh.report(ctx, r.ChargePointID, map[string]any{"connectors": map[string]any{key: e}})
}

func (sh *Shadows) onFirmwareStatus(ctx context.Context, r *Request, _ json.RawMessage) {
	var p struct {
		Status    string `json:"status"`
		RequestID *int   `json:"requestId"`
	}
	if json.Unmarshal(r.Payload, &p) != nil || p.Status == "" {
		return
	}
	e := map[string]any{"status": p.Status, "timestamp": shadowTime(r.Received)}
	if p.RequestID != nil {
		e["requestId"] = *p.RequestID
	}
	sh.report(ctx, r.ChargePointID, map[string]any{"firmware": map[string]any{"status": e}})
}

func (sh *Shadows) onSecurityEvent(ctx context.Context, r *Request, _ json.RawMessage) {
	var p struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		TechInfo  string `json:"techInfo"`
	}
	if json.Unmarshal(r.Payload, &p) != nil || p.Type == "" {
		return
	}
	e := map[string]any{"type": p.Type, "timestamp": p.Timestamp}
	if p.TechInfo != "" {
		e["techInfo"] = p.TechInfo
	}
	sh.report(ctx, r.ChargePointID, map[string]any{"security": map[string]any{"lastEvent": e}})
}

// asObject returns v as a JSON object, or nil.
func asObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// asString renders a shadow value as the string OCPP carries: strings as they
// are, numbers and booleans in their JSON form, anything else as JSON.
func asString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case int:
		return strconv.Itoa(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// reportedValue returns the value to report for s, a value read from or set on
// the station: the desired value itself when it renders as s (so that a
// desired 60 and a reported "60" do not make a delta), s otherwise.
func reportedValue(desired any, s string) any {
	if desired != nil && asString(desired) == s {
		return desired
	}
	return s
}

func shadowKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// shadowTime formats t for the shadow: RFC 3339 in UTC with milliseconds.
func shadowTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
