package sim

import (
	"context"
	"strings"

	"github.com/ocppd/ocppd/ocpp/v16"
	"github.com/ocppd/ocppd/ocpp/v201"
)

// getConfiguration answers a 1.6 GetConfiguration (§5.8): every key when
// none is asked for, the unknown ones listed apart. A write-only key
// (AuthorizationKey) is listed without its value.
func (c *Charger) getConfiguration(keys []string) *v16.GetConfigurationResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	res := &v16.GetConfigurationResponse{}
	kv := func(v *variable) v16.KeyValue {
		e := v16.KeyValue{Key: v.key16, Readonly: v.mutability == readOnly}
		if v.mutability != writeOnly {
			e.Value = cut(v.current(), 500)
		}
		return e
	}
	if len(keys) == 0 {
		for _, v := range c.model.vars {
			if v.key16 != "" {
				res.ConfigurationKey = append(res.ConfigurationKey, kv(v))
			}
		}
		return res
	}
	for _, k := range keys {
		if v := c.model.by16(k); v != nil {
			res.ConfigurationKey = append(res.ConfigurationKey, kv(v))
		} else {
			res.UnknownKey = append(res.UnknownKey, k)
		}
	}
	return res
}

// changeConfiguration applies a 1.6 ChangeConfiguration (§5.3): an
// unknown key is NotSupported, a read-only key or an invalid value
// Rejected.
func (c *Charger) changeConfiguration(key, value string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.model.by16(key)
	switch {
	case v == nil:
		return "NotSupported"
	case v.mutability == readOnly || !v.validValue(value):
		return "Rejected"
	}
	v.value = v.normalize(value)
	if v.reboot {
		return "RebootRequired"
	}
	return "Accepted"
}

// getVariables answers a 2.x GetVariables (B06): per item Accepted with
// the value, UnknownComponent, UnknownVariable, NotSupportedAttributeType
// (only Actual exists here) or Rejected for a write-only variable.
func (c *Charger) getVariables(r *v201.GetVariablesRequest) *v201.GetVariablesResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	res := &v201.GetVariablesResponse{}
	for _, d := range r.GetVariableData {
		out := v201.GetVariableResultType{Component: d.Component, Variable: d.Variable, AttributeType: d.AttributeType}
		v, known := c.find(d.Component, d.Variable)
		switch {
		case !known:
			out.AttributeStatus = "UnknownComponent"
		case v == nil:
			out.AttributeStatus = "UnknownVariable"
		case d.AttributeType != "" && d.AttributeType != "Actual":
			out.AttributeStatus = "NotSupportedAttributeType"
		case v.mutability == writeOnly:
			out.AttributeStatus = "Rejected" // B06.FR.11? write-only values are never reported
		default:
			out.AttributeStatus = "Accepted"
			out.AttributeValue = cut(v.current(), 2500)
		}
		res.GetVariableResult = append(res.GetVariableResult, out)
	}
	return res
}

// setVariables applies a 2.x SetVariables (B05): per item Accepted,
// Rejected (read-only or an invalid value), UnknownComponent,
// UnknownVariable or NotSupportedAttributeType.
func (c *Charger) setVariables(r *v201.SetVariablesRequest) *v201.SetVariablesResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	res := &v201.SetVariablesResponse{}
	for _, d := range r.SetVariableData {
		out := v201.SetVariableResultType{Component: d.Component, Variable: d.Variable, AttributeType: d.AttributeType}
		v, known := c.find(d.Component, d.Variable)
		switch {
		case !known:
			out.AttributeStatus = "UnknownComponent"
		case v == nil:
			out.AttributeStatus = "UnknownVariable"
		case d.AttributeType != "" && d.AttributeType != "Actual":
			out.AttributeStatus = "NotSupportedAttributeType"
		case v.mutability == readOnly:
			out.AttributeStatus = "Rejected"
			out.AttributeStatusInfo = &v201.StatusInfoType{ReasonCode: "ReadOnly"}
		case !v.validValue(d.AttributeValue):
			out.AttributeStatus = "Rejected"
			out.AttributeStatusInfo = &v201.StatusInfoType{ReasonCode: "InvalidValue"}
		default:
			v.value = v.normalize(d.AttributeValue)
			out.AttributeStatus = "Accepted"
			if v.reboot {
				out.AttributeStatus = "RebootRequired"
			}
		}
		res.SetVariableResult = append(res.SetVariableResult, out)
	}
	return res
}

// find looks a 2.x component and variable up; c.mu held.
func (c *Charger) find(comp v201.ComponentType, vr v201.VariableType) (*variable, bool) {
	evse, conn := 0, 0
	if comp.Evse != nil {
		evse = comp.Evse.ID
		if comp.Evse.ConnectorID != nil {
			conn = *comp.Evse.ConnectorID
		}
	}
	return c.model.find2x(comp.Name, comp.Instance, evse, conn, vr.Name, vr.Instance)
}

// report selects the report data of a GetBaseReport (base set) or a
// GetReport (r set) (B07, B08).
func (c *Charger) report(base string, r *v201.GetReportRequest) []v201.ReportDataType {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []v201.ReportDataType
	for _, v := range c.model.vars {
		if v.component == "" {
			continue
		}
		switch {
		case base == "ConfigurationInventory" && v.mutability == readOnly:
			continue
		case base == "SummaryInventory" && v.name != "AvailabilityState":
			continue
		case r != nil && !c.wanted(v, r):
			continue
		}
		out = append(out, c.reportData(v))
	}
	return out
}

// wanted: v matches a GetReport's componentVariable and criteria.
func (c *Charger) wanted(v *variable, r *v201.GetReportRequest) bool {
	for _, crit := range r.ComponentCriteria {
		if crit == "Problem" && len(r.ComponentCriteria) == 1 {
			return false // nothing here has a problem
		}
	}
	if len(r.ComponentVariable) == 0 {
		return true
	}
	for _, cv := range r.ComponentVariable {
		if !strings.EqualFold(cv.Component.Name, v.component) || cv.Component.Instance != "" {
			continue
		}
		if e := cv.Component.Evse; e != nil && (e.ID != v.evse || (e.ConnectorID != nil && *e.ConnectorID != v.conn)) {
			continue
		}
		if cv.Variable == nil || (strings.EqualFold(cv.Variable.Name, v.name) && strings.EqualFold(cv.Variable.Instance, v.instance)) {
			return true
		}
	}
	return false
}

// reportData describes v for NotifyReport; c.mu held.
func (c *Charger) reportData(v *variable) v201.ReportDataType {
	comp := v201.ComponentType{Name: v.component}
	if v.evse > 0 {
		comp.Evse = &v201.EVSEType{ID: v.evse}
		if v.conn > 0 {
			comp.Evse.ConnectorID = ptr(v.conn)
		}
	}
	attr := v201.VariableAttributeType{Type: "Actual", Mutability: v201.MutabilityEnumType(v.mutability)}
	if v.mutability != writeOnly {
		attr.Value = cut(v.current(), 2500)
	}
	return v201.ReportDataType{
		Component:         comp,
		Variable:          v201.VariableType{Name: v.name, Instance: v.instance},
		VariableAttribute: []v201.VariableAttributeType{attr},
		VariableCharacteristics: &v201.VariableCharacteristicsType{
			DataType: v201.DataEnumType(v.dataType), Unit: v.unit,
		},
	}
}

// notifyReport sends data in NotifyReport messages of ItemsPerMessage
// entries, numbered from seqNo 0, all but the last with tbc=true (B07.FR.04).
func (c *Charger) notifyReport(ctx context.Context, requestID int, data []v201.ReportDataType) {
	const per = 20
	generated := c.ts()
	for seq := 0; seq*per < len(data) || seq == 0; seq++ {
		end := min((seq+1)*per, len(data))
		req := &v201.NotifyReportRequest{RequestID: requestID, GeneratedAt: generated, SeqNo: seq, ReportData: data[seq*per : end]}
		if end < len(data) {
			req.Tbc = ptr(true)
		}
		if _, err := c.call(ctx, "NotifyReport", req); err != nil {
			c.logf(levelWarn, "NotifyReport: %v", err)
			return
		}
		if end >= len(data) {
			return
		}
	}
}
