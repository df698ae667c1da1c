package embedded

import (
	"github.com/wind-c/comqtt/v2/mqtt"
	"github.com/wind-c/comqtt/v2/mqtt/packets"
)

// authHook is the one place that decides which TCP clients may connect and
// which topics they may publish and subscribe to. In-process publishers
// and subscribers bypass it (comqtt's inline clients skip ACL checks).
//
// For now it allows everything. Issue #9 adds credentials (required unless
// the listener is bound to loopback) and per-client ACLs here.
type authHook struct {
	mqtt.HookBase
}

func newAuthHook() *authHook { return &authHook{} }

// ID names the hook in comqtt's logs.
func (h *authHook) ID() string { return "ocppd-auth" }

// Provides reports the hook methods implemented.
func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

// OnConnectAuthenticate accepts every CONNECT.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	return true
}

// OnACLCheck allows every topic for reading and writing.
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	return true
}
