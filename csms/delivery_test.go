package csms

import (
	"context"
	"sync"
	"testing"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/ocpp"
)

// holdingBus gives every delivery a Hold, like bus/mqtt, and records what
// was stored and answered when each hold was released.
type holdingBus struct {
	bus.Bus
	mu       sync.Mutex
	holds    int
	released int
	check    func() string // run at each release; non-empty: a failure
	failures []string
}

func (b *holdingBus) Subscribe(ctx context.Context, filter string, h bus.Handler) (bus.Subscription, error) {
	return b.Bus.Subscribe(ctx, filter, func(m bus.Message) {
		m.Hold = func() func() {
			b.mu.Lock()
			b.holds++
			b.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					b.mu.Lock()
					defer b.mu.Unlock()
					b.released++
					if b.check != nil {
						if f := b.check(); f != "" {
							b.failures = append(b.failures, f)
						}
					}
				})
			}
		}
		h(m)
	})
}

// TestHeldUntilStoredAndAnswered: the CSMS holds each delivery from the
// bus until its worker has stored the message and published the answer,
// so that a broker redelivers what a killed worker had only queued.
func TestHeldUntilStoredAndAnswered(t *testing.T) {
	var hb *holdingBus
	e := newEnv(t, func(o *Options) {
		hb = &holdingBus{Bus: o.Bus}
		o.Bus = hb
	})
	e.addCP("CP1", ocppd.RegistrationAccepted, ocpp.V201)
	st := e.station("CP1", ocpp.V201)
	hb.mu.Lock()
	hb.check = func() string {
		hist, err := e.db.StatusHistory(context.Background(), "CP1", 0)
		if err != nil {
			return err.Error()
		}
		if len(hist) == 0 {
			return "released before the status was stored"
		}
		if len(st.out) == 0 {
			return "released before the answer was published"
		}
		return ""
	}
	hb.mu.Unlock()
	st.publish(ocpp.AppendCall(nil, "m1", "StatusNotification", []byte(`{"timestamp":"2025-06-01T12:00:00Z","connectorStatus":"Available","evseId":1,"connectorId":1}`)))
	eventually(t, "the hold released", func() bool {
		hb.mu.Lock()
		defer hb.mu.Unlock()
		return hb.released == 1
	})
	if f := st.next(); f.Type != ocpp.CallResult {
		t.Fatalf("answer %s", f.Type)
	}
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if hb.holds != 1 || len(hb.failures) > 0 {
		t.Errorf("holds %d, failures %v", hb.holds, hb.failures)
	}
}
