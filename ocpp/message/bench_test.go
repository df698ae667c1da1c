package message_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/message"
)

// The payloads of the per-package benchmarks (ocpp/v16, ocpp/v201).
const (
	benchMeterValues16      = `{"connectorId":1,"transactionId":42,"meterValue":[{"timestamp":"2025-01-31T13:45:00Z","sampledValue":[{"value":"12345.6","context":"Sample.Periodic","measurand":"Energy.Active.Import.Register","unit":"Wh"},{"value":"7.2","measurand":"Power.Active.Import","unit":"kW"},{"value":"16.1","measurand":"Current.Import","phase":"L1","unit":"A"}]}]}`
	benchTransactionEvent21 = `{"eventType":"Updated","timestamp":"2025-01-31T13:45:00.123Z","offline":false,"triggerReason":"MeterValuePeriodic","seqNo":12,"transactionInfo":{"transactionId":"tx-0001","chargingState":"Charging"},"meterValue":[{"timestamp":"2025-01-31T13:45:00Z","sampledValue":[{"value":12345.6,"measurand":"Energy.Active.Import.Register"},{"value":7200,"measurand":"Power.Active.Import"}]}]}`
)

// BenchmarkDecode measures decode + validate through the version dispatch.
func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name    string
		v       ocpp.Version
		action  string
		payload string
	}{
		{"MeterValues/1.6", ocpp.V16, "MeterValues", benchMeterValues16},
		{"TransactionEvent/2.0.1", ocpp.V201, "TransactionEvent", benchTransactionEvent21},
		{"TransactionEvent/2.1", ocpp.V21, "TransactionEvent", benchTransactionEvent21},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := []byte(bc.payload)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := message.DecodeRequest(bc.v, bc.action, p, ocpp.DecodeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBaseline measures, for comparison only, what the generated
// decoders replace: encoding/json into a generic value, and the official
// schema checked by santhosh-tekuri/jsonschema.
func BenchmarkBaseline(b *testing.B) {
	p := []byte(benchMeterValues16)
	b.Run("encoding-json/MeterValues/1.6", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v map[string]any
			if err := json.Unmarshal(p, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jsonschema/MeterValues/1.6", func(b *testing.B) {
		var sch *jsonschema.Schema
		for _, o := range loadOfficial(b, "1.6") {
			if o.action == "MeterValues" && o.request {
				sch = o.schema
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(p))
			if err != nil {
				b.Fatal(err)
			}
			if err := sch.Validate(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
