package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/sim"
	"github.com/ocppd/ocppd/store"
)

// stationIDs returns n station ids under prefix.
func stationIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return ids
}

// onlineAt returns the stations of ids the store has online, by gateway.
func onlineAt(t *testing.T, c *cluster, ids []string) map[string]string {
	t.Helper()
	online := true
	cps, err := c.db.ListChargePoints(context.Background(), store.ListOptions{Online: &online})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	out := map[string]string{}
	for _, cp := range cps {
		if want[cp.ID] {
			out[cp.ID] = cp.GatewayID
		}
	}
	return out
}

func getCP(t *testing.T, c *cluster, id string) ocppd.ChargePoint {
	t.Helper()
	cp, err := c.db.GetChargePoint(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// TestClusterFailover runs 2 gateways and 2 CSMS workers on the external
// broker and PostgreSQL, behind HAProxy, with 200 simulated chargers (OCPP
// 1.6 and 2.0.1 mixed) running charging sessions — Authorize, start, meter
// values, stop:
//
//   - a station connecting to a second gateway closes its session on the
//     first with 1000, and the store follows it;
//   - stations are spread over both gateways; kill -9 of one gateway: its
//     stations reconnect through HAProxy to the other and finish their
//     sessions (replaying what went unanswered), and its stations that do
//     not come back are marked offline (the gateway's MQTT will);
//   - kill -9 of a CSMS worker mid-load (restarted like systemd would);
//   - no transaction lost or doubled: every transaction a charger started
//     is stored exactly once and ended, every sampled value answered is
//     stored exactly once;
//   - when the stations leave, every one is marked offline.
func TestClusterFailover(t *testing.T) {
	e := needServices(t)
	needBinary(t, "haproxy", "/usr/sbin/haproxy")
	c := newCluster(t, e.mqttURL, e.pgURL)
	run := strings.TrimSuffix(c.prefix, "/")
	ids := stationIDs("S", 200)
	register(t, c.db, append(ids, "DUP"))

	csms1 := c.add(run+"-csms1", "csms")
	c.add(run+"-csms2", "csms")
	gw1 := c.add(run+"-gw1", "gateway")
	gw2 := c.add(run+"-gw2", "gateway")

	t.Run("duplicate across gateways", func(t *testing.T) {
		var log1 closeLog
		first := sim.New(sim.Options{URL: "ws://" + gw1.ocppAddr, ID: "DUP", Version: ocpp.V201, CallTimeout: waitFor, Logger: log1.logger()})
		defer first.Close()
		if err := connectAndBoot(context.Background(), first); err != nil {
			t.Fatal(err)
		}
		eventually(t, "DUP online at gw1", func() (bool, string) {
			cp := getCP(t, c, "DUP")
			return cp.Online && cp.GatewayID == gw1.name, fmt.Sprintf("%+v", cp)
		})
		firstSession := getCP(t, c, "DUP").SessionID
		second := sim.New(sim.Options{URL: "ws://" + gw2.ocppAddr, ID: "DUP", Version: ocpp.V201, CallTimeout: waitFor})
		defer second.Close()
		if err := connectAndBoot(context.Background(), second); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the first session closed with 1000", func() (bool, string) {
			return !first.Connected() && strings.Contains(log1.String(), "1000 (normal closure)"), log1.String()
		})
		eventually(t, "DUP online at gw2 in a new session", func() (bool, string) {
			cp := getCP(t, c, "DUP")
			return cp.Online && cp.GatewayID == gw2.name && cp.SessionID != firstSession, fmt.Sprintf("%+v", cp)
		})
		if _, err := second.Heartbeat(context.Background()); err != nil {
			t.Fatalf("the second connection does not work: %v", err)
		}
	})

	lb := c.haproxy(gw1, gw2)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.db.PutIDToken(ctx, store.IDToken{Token: clusterTag, Type: "ISO14443", Status: "Accepted", UpdatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	sc := sessionScript{url: lb, sessions: 4, meters: 4, pause: 150 * time.Millisecond, timeout: 8 * time.Second}
	lazy := map[string]bool{}
	f := newSessionFleet()
	for i, id := range ids {
		lazy[id] = i%10 == 0
		v := ocpp.V201
		if i%2 == 1 {
			v = ocpp.V16
		}
		f.start(ctx, sc, id, v, lazy[id])
	}
	waitProgress := func(n int64, what string) {
		t.Helper()
		eventually(t, what, func() (bool, string) {
			return f.answered.Load() >= n, fmt.Sprintf("%d transaction messages answered", f.answered.Load())
		})
	}

	waitProgress(int64(len(ids))*3, "the fleet under way")
	where := onlineAt(t, c, ids)
	onGW := map[string][]string{}
	for id, gw := range where {
		onGW[gw] = append(onGW[gw], id)
	}
	t.Logf("before the kill: %d stations on %s, %d on %s (%d online of %d)", len(onGW[gw1.name]), gw1.name, len(onGW[gw2.name]), gw2.name, len(where), len(ids))
	if len(onGW[gw1.name]) == 0 || len(onGW[gw2.name]) == 0 {
		t.Fatalf("HAProxy did not spread the stations over both gateways: %v", map[string]int{gw1.name: len(onGW[gw1.name]), gw2.name: len(onGW[gw2.name])})
	}
	var lazyOnGW1 []string
	for _, id := range onGW[gw1.name] {
		if lazy[id] {
			lazyOnGW1 = append(lazyOnGW1, id)
		}
	}

	t.Run("kill -9 a gateway", func(t *testing.T) {
		gw1.kill()
		// The broker publishes gw1's will; the CSMS marks the stations
		// that stay away offline, while the others move to gw2.
		eventually(t, "gw1's stations that stay away marked offline", func() (bool, string) {
			still := onlineAt(t, c, lazyOnGW1)
			return len(still) == 0, fmt.Sprintf("still online: %v", still)
		})
		eventually(t, "gw1's other stations online at gw2", func() (bool, string) {
			now := onlineAt(t, c, onGW[gw1.name])
			for _, id := range onGW[gw1.name] {
				if !lazy[id] && now[id] != gw2.name {
					return false, fmt.Sprintf("%s at %q", id, now[id])
				}
			}
			return true, ""
		})
	})

	t.Run("kill -9 a CSMS worker mid-load", func(t *testing.T) {
		before := f.answered.Load()
		csms1.kill()
		time.Sleep(500 * time.Millisecond)
		csms1.start() // as systemd would; the same id finds its session again
		waitProgress(before+int64(len(ids)), "progress after the worker's restart")
	})

	outcomes := f.wait()
	moved := 0
	for _, id := range onGW[gw1.name] {
		o := outcomes[id]
		if !lazy[id] && o.connects < 2 {
			t.Errorf("%s was on gw1 but connected %d times", id, o.connects)
		}
		if !lazy[id] {
			moved++
		}
	}
	for _, o := range outcomes {
		if o.err != nil {
			t.Errorf("%s did not finish its sessions: %v", o.id, o.err)
		}
	}
	n := checkTransactions(t, c.db, outcomes)
	t.Logf("%d stations moved from gw1 to gw2; transactions: %d started (answered), %d stored, %d ended; sampled values: %d answered, %d stored",
		moved, n.started, n.stored, n.ended, n.samplesSent, n.samplesStored)
	if n.started == 0 || n.samplesSent == 0 {
		t.Errorf("the fleet charged nothing: %+v", n)
	}

	t.Run("everyone offline after leaving", func(t *testing.T) {
		eventually(t, "every station offline", func() (bool, string) {
			on := onlineAt(t, c, ids)
			return len(on) == 0, fmt.Sprintf("%d still online", len(on))
		})
	})
}

// TestClusterBrokerRestart runs a gateway and two CSMS workers on a
// Mosquitto of its own, restarts the broker while 50 stations are busy, and
// checks that the cluster recovers — every station finishes, the last
// rounds are answered, the stations are online again — and that nothing
// the CSMS acknowledged to a station is lost or doubled. With persistence
// the broker keeps the sessions across the restart; without, every client
// finds its session gone and must subscribe again, and lifecycle events
// published meanwhile are lost until the gateways re-announce.
func TestClusterBrokerRestart(t *testing.T) {
	for _, persist := range []bool{true, false} {
		t.Run(fmt.Sprintf("persistence=%v", persist), func(t *testing.T) { brokerRestart(t, persist) })
	}
}

func brokerRestart(t *testing.T, persist bool) {
	e := needServices(t)
	mosq := startMosquitto(t, persist)
	c := newCluster(t, mosq.url, e.pgURL)
	run := strings.TrimSuffix(c.prefix, "/")
	ids := stationIDs("B", 50)
	register(t, c.db, ids)
	c.add(run+"-csms1", "csms")
	c.add(run+"-csms2", "csms")
	gw := c.add(run+"-gw1", "gateway")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sc := script{url: "ws://" + gw.ocppAddr, rounds: 40, pause: 150 * time.Millisecond, timeout: 10 * time.Second, base: time.Now().UTC().Truncate(time.Second)}
	f := newFleet()
	for _, id := range ids {
		f.start(ctx, sc, id, false)
	}
	eventually(t, "the fleet under way", func() (bool, string) {
		return f.answered.Load() >= int64(len(ids))*6, fmt.Sprintf("%d answered", f.answered.Load())
	})
	mosq.restart()
	// The stations are still at it: the gateway's re-announcement after
	// its reconnection keeps them online whatever the broker did with the
	// gateway's will on the way down.
	eventually(t, "every station online at the gateway after the restart", func() (bool, string) {
		on := onlineAt(t, c, ids)
		for _, id := range ids {
			if on[id] != gw.name {
				return false, fmt.Sprintf("%s at %q: %+v", id, on[id], getCP(t, c, id))
			}
		}
		return true, ""
	})
	outcomes := f.wait()
	for _, o := range outcomes {
		if o.err != nil {
			t.Errorf("%s did not finish: %v", o.id, o.err)
			continue
		}
		if last := o.sent[len(o.sent)-1]; !o.answered[last] {
			t.Errorf("%s: the last round after the broker restart was not answered", o.id)
		}
	}
	sent, answered, stored, redelivered := checkExactlyOnce(t, c.db, outcomes)
	t.Logf("StatusNotifications: %d sent, %d answered, %d stored, %d unanswered stored twice", sent, answered, stored, redelivered)
}

// mosquitto is a broker of the test's own, on an ephemeral port.
type mosquitto struct {
	t       *testing.T
	bin     string
	conf    string
	url     string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// startMosquitto starts a Mosquitto, with persistence in a temp dir if
// persist.
func startMosquitto(t *testing.T, persist bool) *mosquitto {
	t.Helper()
	bin := needBinary(t, "mosquitto", "/usr/sbin/mosquitto")
	dir := t.TempDir()
	addr := freeAddr(t)
	host, port, _ := strings.Cut(addr, ":")
	conf := filepath.Join(dir, "mosquitto.conf")
	cfg := fmt.Sprintf("listener %s %s\nallow_anonymous true\nmax_queued_messages 100000\nlog_dest stderr\nlog_type error\nlog_type warning\n", port, host)
	if persist {
		cfg += fmt.Sprintf("persistence true\npersistence_location %s/\nautosave_interval 1\n", dir)
	}
	if os.Geteuid() == 0 {
		// Started as root, Mosquitto switches to the user "mosquitto",
		// which cannot write the test's temp dir.
		cfg += "user root\n"
	}
	err := os.WriteFile(conf, []byte(cfg), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	m := &mosquitto{t: t, bin: bin, conf: conf, url: "mqtt://" + addr, logPath: filepath.Join(dir, "mosquitto.log")}
	m.start()
	t.Cleanup(m.stop)
	return m
}

func (m *mosquitto) start() {
	m.t.Helper()
	lf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		m.t.Fatal(err)
	}
	cmd := exec.Command(m.bin, "-c", m.conf)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("start mosquitto: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); lf.Close(); close(exited) }()
	m.cmd, m.exited = cmd, exited
	addr := strings.TrimPrefix(m.url, "mqtt://")
	eventually(m.t, "mosquitto listening on "+addr, func() (bool, string) {
		select {
		case <-exited:
			b, _ := os.ReadFile(m.logPath)
			m.t.Fatalf("mosquitto exited:\n%s", b)
		default:
		}
		conn, err := dialTCP(addr)
		if err != nil {
			return false, err.Error()
		}
		conn.Close()
		return true, ""
	})
}

// stop shuts the broker down cleanly (it saves its persistence file).
func (m *mosquitto) stop() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(20 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
	m.cmd = nil
}

// restart stops the broker and starts it again on the same port and
// persistence file.
func (m *mosquitto) restart() {
	m.t.Helper()
	m.stop()
	time.Sleep(500 * time.Millisecond)
	m.start()
}
