package csms

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
)

// BenchmarkDispatch measures a CALL's handling without the bus: station
// policy read, decode and validation, the handler's store writes (a real
// SQLite file; group-committed, so parallel calls share fsyncs) and the
// response's encoding.
func BenchmarkDispatch(b *testing.B) {
	cases := []struct {
		name, action string
		v            ocpp.Version
		payload      string
	}{
		{"Heartbeat/1.6", "Heartbeat", ocpp.V16, `{}`},
		{"Heartbeat/2.0.1", "Heartbeat", ocpp.V201, `{}`},
		{"MeterValues/1.6", "MeterValues", ocpp.V16, `{"connectorId":1,"transactionId":1,"meterValue":[{"timestamp":"2025-06-01T12:00:00Z","sampledValue":[{"value":"1234.5"},{"value":"7.2","measurand":"Power.Active.Import","unit":"kW"},{"value":"230","measurand":"Voltage","phase":"L1-N","unit":"V"}]}]}`},
		{"MeterValues/2.0.1", "MeterValues", ocpp.V201, `{"evseId":1,"meterValue":[{"timestamp":"2025-06-01T12:00:00Z","sampledValue":[{"value":1234.5},{"value":7.2,"measurand":"Power.Active.Import","unitOfMeasure":{"unit":"kW"}},{"value":230,"measurand":"Voltage","phase":"L1-N","unitOfMeasure":{"unit":"V"}}]}]}`},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnvTB(b)
			const stations = 64
			for i := range stations {
				e.addCP(fmt.Sprintf("CP%03d", i), ocppd.RegistrationAccepted, tc.v)
			}
			ctx := context.Background()
			b.ReportAllocs()
			// Many stations at once, as on a CSMS worker pool: their
			// writes share group commits.
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					r := &Request{ChargePointID: fmt.Sprintf("CP%03d", i%stations), Version: tc.v, Action: tc.action,
						MessageID: "1", Payload: json.RawMessage(tc.payload), Received: time.Now()}
					if _, err := e.svc.dispatch(ctx, r); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
