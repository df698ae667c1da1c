package csms

import (
	"context"
	"encoding/json"
)

// CallObserver is told about a CALL from a station that the CSMS handled
// and answered with a CALLRESULT: the request and the response payload.
// It runs on the station's CSMS worker after the answer was published, so
// it sees the station's CALLs in order; it must not block for long.
type CallObserver func(ctx context.Context, r *Request, response json.RawMessage)

// OnCall registers fn for the CALLs of action ("" for every action) that
// this process handles successfully (CALLs answered with a CALLERROR are
// not observed). The shadow runtime uses it to fill state.reported from
// StatusNotification, NotifyReport, FirmwareStatusNotification and
// SecurityEventNotification, and to reconcile the desired state when a
// station boots. Register observers before Start.
func (s *Service) OnCall(action string, fn CallObserver) {
	s.obsMu.Lock()
	defer s.obsMu.Unlock()
	if s.callObs == nil {
		s.callObs = map[string][]CallObserver{}
	}
	s.callObs[action] = append(s.callObs[action], fn)
}

func (s *Service) observeCall(ctx context.Context, r *Request, response json.RawMessage) {
	s.obsMu.RLock()
	fns := append(append([]CallObserver(nil), s.callObs[r.Action]...), s.callObs[""]...)
	s.obsMu.RUnlock()
	for _, fn := range fns {
		fn(ctx, r, response)
	}
}
