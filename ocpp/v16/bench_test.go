package v16

import (
	"testing"

	"github.com/ocppd/ocppd/ocpp"
)

// meterValues is a typical ~350-byte MeterValues request with three sampled
// values.
const meterValues = `{"connectorId":1,"transactionId":42,"meterValue":[{"timestamp":"2025-01-31T13:45:00Z","sampledValue":[{"value":"12345.6","context":"Sample.Periodic","measurand":"Energy.Active.Import.Register","unit":"Wh"},{"value":"7.2","measurand":"Power.Active.Import","unit":"kW"},{"value":"16.1","measurand":"Current.Import","phase":"L1","unit":"A"}]}]}`

// BenchmarkDecodeMeterValues measures decode + validate of a MeterValues
// request.
func BenchmarkDecodeMeterValues(b *testing.B) {
	payload := []byte(meterValues)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRequest("MeterValues", payload, ocpp.DecodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeMeterValues measures encoding the same message.
func BenchmarkEncodeMeterValues(b *testing.B) {
	m, err := DecodeRequest("MeterValues", []byte(meterValues), ocpp.DecodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	msg := m.(*MeterValuesRequest)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := msg.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}
