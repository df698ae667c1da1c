package v201

import (
	"testing"

	"github.com/ocppd/ocppd/ocpp"
)

// transactionEvent is a typical ~350-byte TransactionEvent Updated request
// with two sampled values.
const transactionEvent = `{"eventType":"Updated","timestamp":"2025-01-31T13:45:00.123Z","offline":false,"triggerReason":"MeterValuePeriodic","seqNo":12,"transactionInfo":{"transactionId":"tx-0001","chargingState":"Charging"},"meterValue":[{"timestamp":"2025-01-31T13:45:00Z","sampledValue":[{"value":12345.6,"measurand":"Energy.Active.Import.Register"},{"value":7200,"measurand":"Power.Active.Import"}]}]}`

// BenchmarkDecodeTransactionEvent measures decode + validate of a
// TransactionEvent request.
func BenchmarkDecodeTransactionEvent(b *testing.B) {
	payload := []byte(transactionEvent)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRequest("TransactionEvent", payload, ocpp.DecodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
