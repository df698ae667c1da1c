package metrics

import (
	"testing"

	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/memory"
)

// BenchmarkObserverHandler measures the part of the observer that runs on
// the publisher's goroutine for every frame: the header parse and the
// hand-off to the observer's queue (one CALL and its CALLRESULT per
// iteration). The queue is drained by the running observer.
func BenchmarkObserverHandler(b *testing.B) {
	reg := NewRegistry()
	o, err := NewObserver(ObserverOptions{Bus: memory.New(), Registerer: reg.Registerer(), QueueSize: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	o.started.Store(true)
	go o.run()
	defer o.Close()
	in, out := o.frameHandler("in"), o.frameHandler("out")
	call := bus.Message{Topic: "CP000001/in", Payload: []byte(`[2,"19223201","MeterValues",{"evseId":1,"meterValue":[{"timestamp":"2025-01-01T00:00:00Z","sampledValue":[{"value":1234.5}]}]}]`)}
	res := bus.Message{Topic: "CP000001/out", Payload: []byte(`[3,"19223201",{}]`)}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		in(call)
		out(res)
	}
	b.StopTimer()
	o.flush()
	b.ReportMetric(float64(o.Stats().Dropped), "dropped")
}
