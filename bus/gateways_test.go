package bus

import (
	"testing"
	"time"
)

func TestGatewayStatusTopics(t *testing.T) {
	tp := Topics{Prefix: "f1/"}
	if got := tp.Gateway("gw+1"); got != "f1/ocppd/gateways/gw%2B1" {
		t.Errorf("Gateway = %q", got)
	}
	if !Match(tp.AllGateways(), tp.Gateway("gw1")) {
		t.Error("AllGateways does not match Gateway")
	}
	for _, f := range []string{tp.AllIn(), tp.AllOut(), tp.AllLifecycle()} {
		if Match(f, tp.Gateway("gw1")) {
			t.Errorf("%s matches a gateway status topic", f)
		}
	}
	if _, ok := tp.StationOf(tp.Gateway("gw1")); ok {
		t.Error("StationOf takes a gateway status topic for a station topic")
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := GatewayStatus{GatewayID: "gw1", Instance: "i", Status: GatewayUp, Time: at}.Message(tp)
	if !m.Retain || m.Topic != "f1/ocppd/gateways/gw1" {
		t.Fatalf("Message = %+v", m)
	}
	st, err := DecodeGatewayStatus(m.Payload)
	if err != nil || st.GatewayID != "gw1" || st.Status != GatewayUp || !st.Time.Equal(at) {
		t.Fatalf("round trip: %+v, %v", st, err)
	}
	will := GatewayStatus{GatewayID: "gw1", Status: GatewayDown}.Message(tp)
	if string(will.Payload) != `{"gatewayId":"gw1","instance":"","status":"down"}` {
		t.Errorf("a status without a time: %s", will.Payload)
	}
}
