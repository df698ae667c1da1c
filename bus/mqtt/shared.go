package mqtt

import (
	"context"
	"strings"
)

// refreshShared subscribes every shared subscription ($share/…) again after
// a connection that found its session. Mosquitto 2.0 restores a persistent
// session's shared subscriptions from its persistence file after a restart
// without delivering to them any more, while it reports the session present
// and delivers to the session's plain subscriptions (found by ocppd's
// cluster test: after a broker restart the CSMS workers received no /in
// message). SUBSCRIBE for an existing subscription replaces it (MQTT v5
// §3.8.4), so this is harmless where the broker is right.
func (c *Client) refreshShared(ctx context.Context) {
	n := 0
	for _, e := range c.reg.entries() {
		if !strings.HasPrefix(e.filter, "$share/") {
			continue
		}
		lk := c.reg.lock(e.filter)
		lk.Lock()
		var err error
		if c.reg.live(e) {
			err = c.subscribe(ctx, e)
			n++
		}
		lk.Unlock()
		if err != nil && ctx.Err() == nil {
			c.log.Error("mqtt: subscribing a shared subscription again failed", "filter", e.filter, "err", err)
		}
		if ctx.Err() != nil {
			return
		}
	}
	if n > 0 {
		c.log.Info("mqtt shared subscriptions renewed", "filters", n)
	}
}
