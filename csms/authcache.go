package csms

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/ocppd/ocppd/store"
)

// The authorization cache lives on the station (1.6 §3.5.1, 2.0.1
// C10–C12); ocppd keeps in step with what the station confirmed
// (store.AuthCaches): the outcome of its ClearCache commands (1.6 §5.4,
// 2.0.1 C11: Accepted means the cache is empty as of then) and whether the
// cache is enabled — 2.x AuthCacheCtrlr.Enabled as read (GetVariables,
// NotifyReport) or set (SetVariables Accepted), 1.6
// AuthorizationCacheEnabled as read (GetConfiguration) or changed
// (ChangeConfiguration Accepted). The local list version is kept by
// trackLocalList (authorize.go).

func (s *Service) trackAuthCache() {
	s.OnAnswer("ClearCache", s.clearCacheAnswer)
	s.OnAnswer("GetVariables", s.cacheEnabledAnswer)
	s.OnAnswer("SetVariables", s.cacheEnabledAnswer)
	s.OnAnswer("GetConfiguration", s.cacheEnabledAnswer)
	s.OnAnswer("ChangeConfiguration", s.cacheEnabledAnswer)
	s.OnCall("NotifyReport", s.cacheEnabledReported)
}

// clearCacheAnswer records the answer to a ClearCache.
func (s *Service) clearCacheAnswer(ctx context.Context, c Command) {
	if c.State != store.CommandAnswered {
		return
	}
	st := answerStatus(c)
	if st == "" {
		return
	}
	if err := s.opts.Store.RecordCacheClear(ctx, c.ChargePointID, st, s.opts.Now()); err != nil {
		s.log.Warn("recording the cache clear failed", "cp", c.ChargePointID, "err", err)
	}
}

// cacheVar reports whether a 2.x component/variable (or a 1.6 key) is
// the authorization cache's enabled flag.
func cacheVar(component, variable string) bool {
	return strings.EqualFold(component, "AuthCacheCtrlr") && strings.EqualFold(variable, "Enabled")
}

type componentVariable struct {
	Component struct {
		Name string `json:"name"`
	} `json:"component"`
	Variable struct {
		Name string `json:"name"`
	} `json:"variable"`
	AttributeType string `json:"attributeType"`
}

// actual reports whether an attribute type is the Actual one (the
// default when omitted).
func actual(attributeType string) bool { return attributeType == "" || attributeType == "Actual" }

// cacheEnabledAnswer records the cache's enabled flag from answers that
// read or change it.
func (s *Service) cacheEnabledAnswer(ctx context.Context, c Command) {
	if c.State != store.CommandAnswered {
		return
	}
	var found, enabled bool
	switch c.Action {
	case "GetVariables":
		var resp struct {
			GetVariableResult []struct {
				componentVariable
				AttributeStatus string `json:"attributeStatus"`
				AttributeValue  string `json:"attributeValue"`
			} `json:"getVariableResult"`
		}
		_ = json.Unmarshal(c.Response, &resp)
		for _, r := range resp.GetVariableResult {
			if r.AttributeStatus == "Accepted" && actual(r.AttributeType) && cacheVar(r.Component.Name, r.Variable.Name) {
				found, enabled = true, strings.EqualFold(r.AttributeValue, "true")
			}
		}
	case "SetVariables":
		var req struct {
			SetVariableData []struct {
				componentVariable
				AttributeValue string `json:"attributeValue"`
			} `json:"setVariableData"`
		}
		var resp struct {
			SetVariableResult []struct {
				componentVariable
				AttributeStatus string `json:"attributeStatus"`
			} `json:"setVariableResult"`
		}
		_ = json.Unmarshal(c.Request, &req)
		_ = json.Unmarshal(c.Response, &resp)
		for _, r := range resp.SetVariableResult {
			if r.AttributeStatus != "Accepted" || !actual(r.AttributeType) || !cacheVar(r.Component.Name, r.Variable.Name) {
				continue
			}
			for _, d := range req.SetVariableData {
				if actual(d.AttributeType) && cacheVar(d.Component.Name, d.Variable.Name) {
					found, enabled = true, strings.EqualFold(d.AttributeValue, "true")
				}
			}
		}
	case "GetConfiguration":
		var resp struct {
			ConfigurationKey []struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"configurationKey"`
		}
		_ = json.Unmarshal(c.Response, &resp)
		for _, k := range resp.ConfigurationKey {
			if strings.EqualFold(k.Key, "AuthorizationCacheEnabled") {
				found, enabled = true, strings.EqualFold(k.Value, "true")
			}
		}
	case "ChangeConfiguration":
		var req struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		}
		if answerStatus(c) == "Accepted" && json.Unmarshal(c.Request, &req) == nil && strings.EqualFold(req.Key, "AuthorizationCacheEnabled") {
			found, enabled = true, strings.EqualFold(req.Value, "true")
		}
	}
	if found {
		s.recordCacheEnabled(ctx, c.ChargePointID, enabled, s.opts.Now())
	}
}

// cacheEnabledReported records AuthCacheCtrlr.Enabled from a 2.x
// NotifyReport (B07/B08: the answer to GetBaseReport/GetReport).
func (s *Service) cacheEnabledReported(ctx context.Context, r *Request, _ json.RawMessage) {
	var p struct {
		ReportData []struct {
			componentVariable
			VariableAttribute []struct {
				Type  string `json:"type"`
				Value string `json:"value"`
			} `json:"variableAttribute"`
		} `json:"reportData"`
	}
	if json.Unmarshal(r.Payload, &p) != nil {
		return
	}
	for _, d := range p.ReportData {
		if !cacheVar(d.Component.Name, d.Variable.Name) {
			continue
		}
		for _, a := range d.VariableAttribute {
			if actual(a.Type) && a.Value != "" {
				s.recordCacheEnabled(ctx, r.ChargePointID, strings.EqualFold(a.Value, "true"), r.Received)
			}
		}
	}
}

func (s *Service) recordCacheEnabled(ctx context.Context, cp string, enabled bool, at time.Time) {
	if err := s.opts.Store.RecordCacheEnabled(ctx, cp, enabled, at); err != nil {
		s.log.Warn("recording the authorization cache state failed", "cp", cp, "err", err)
	}
}
