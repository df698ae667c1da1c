package embedded_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/embedded"
)

// connectAs connects to b's listener (reached over 127.0.0.1) with the
// given credentials and returns the client, or nil when refused.
func connectAs(t *testing.T, b *embedded.Broker, user, pass string, recv chan<- *paho.Publish) *paho.Client {
	t.Helper()
	_, port, _ := net.SplitHostPort(b.Addr().String())
	conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			if recv != nil {
				recv <- pr.Packet
			}
			return true, nil
		}},
	})
	cp := &paho.Connect{ClientID: "c-" + user, KeepAlive: 30, CleanStart: true}
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
		cp.Password, cp.PasswordFlag = []byte(pass), true
	}
	ca, err := c.Connect(ctx(t), cp)
	if err != nil || ca.ReasonCode != 0 {
		conn.Close()
		return nil
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c
}

func subscribeCode(t *testing.T, c *paho.Client, filter string) byte {
	t.Helper()
	sa, err := c.Subscribe(ctx(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
	if err != nil && sa == nil {
		t.Fatalf("subscribe %q: %v", filter, err)
	}
	return sa.Reasons[0]
}

func TestListenerOnAllInterfacesRequiresCredentials(t *testing.T) {
	b := start(t, embedded.Options{ListenAddr: "0.0.0.0:0", Users: []embedded.User{
		{Username: "watcher", Password: "s3cret-watcher", Read: []string{"+/in", "+/out"}},
		{Username: "ops", Password: "s3cret-ops", Write: []string{"+/out"}},
	}})
	if connectAs(t, b, "", "", nil) != nil {
		t.Fatal("anonymous client admitted on a non-loopback listener")
	}
	if connectAs(t, b, "watcher", "wrong", nil) != nil {
		t.Fatal("wrong password admitted")
	}
	if connectAs(t, b, "nobody", "s3cret-watcher", nil) != nil {
		t.Fatal("unknown user admitted")
	}
	recv := make(chan *paho.Publish, 10)
	w := connectAs(t, b, "watcher", "s3cret-watcher", recv)
	if w == nil {
		t.Fatal("watcher refused")
	}
	// Reads only what it may.
	if code := subscribeCode(t, w, "+/in"); code >= 0x80 {
		t.Errorf("+/in refused: %#x", code)
	}
	for _, f := range []string{"#", "+/#", "ocppd/lifecycle/+", "$share/g/#", "$shadow/CP1/update"} {
		if code := subscribeCode(t, w, f); code < 0x80 {
			t.Errorf("subscription %q allowed: %#x", f, code)
		}
	}
	// Writes nothing.
	_, _ = w.Publish(ctx(t), &paho.Publish{Topic: "CP1/out", QoS: 1, Payload: []byte(`[2,"x","Reset",{}]`)})
	got := make(chan bus.Message, 4)
	if _, err := b.Subscribe(context.Background(), "CP1/out", func(m bus.Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	_, _ = w.Publish(ctx(t), &paho.Publish{Topic: "CP1/out", QoS: 1, Payload: []byte(`[2,"y","Reset",{}]`)})
	// The ops user may write /out.
	ops := connectAs(t, b, "ops", "s3cret-ops", nil)
	if ops == nil {
		t.Fatal("ops refused")
	}
	if _, err := ops.Publish(ctx(t), &paho.Publish{Topic: "CP1/out", QoS: 1, Payload: []byte(`[2,"z","Reset",{}]`)}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if string(m.Payload) != `[2,"z","Reset",{}]` {
			t.Fatalf("the watcher's publish got through: %s", m.Payload)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ops publish not delivered")
	}
	// The watcher receives /in traffic.
	if err := b.Publish(context.Background(), bus.Message{Topic: "CP1/in", Payload: []byte("[2]")}); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-recv:
		if p.Topic != "CP1/in" {
			t.Errorf("received %s", p.Topic)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watcher got nothing")
	}
}

func TestLoopbackListenerAdmitsAnonymous(t *testing.T) {
	b := start(t, embedded.Options{ListenAddr: "127.0.0.1:0", Users: []embedded.User{{Username: "u", Password: "p"}}})
	if connectAs(t, b, "", "", nil) == nil {
		t.Fatal("anonymous client refused on loopback")
	}
	if connectAs(t, b, "u", "wrong", nil) != nil {
		t.Fatal("wrong password admitted on loopback")
	}
}
