package load

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/embedded"
	"github.com/ocppd/ocppd/csms"
	"github.com/ocppd/ocppd/gateway"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/store/sqlite"
)

// workerEnv makes the test binary a load worker: TestMain runs
// ServeWorker with the JSON configuration in this variable.
const workerEnv = "OCPPD_LOAD_TEST_WORKER"

func TestMain(m *testing.M) {
	if cfgJSON := os.Getenv(workerEnv); cfgJSON != "" {
		var cfg Config
		if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
			fmt.Fprintln(os.Stderr, "worker config:", err)
			os.Exit(2)
		}
		if err := ServeWorker(context.Background(), cfg, os.Stdin, os.Stdout, nil); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testWorkerCommand re-runs the test binary as a worker.
func testWorkerCommand(cfg Config) *exec.Cmd {
	b, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"="+string(b))
	return cmd
}

// startServer runs the real pipeline — gateway, embedded broker, CSMS,
// SQLite store — on 127.0.0.1:0 with n stations LOAD000001… registered,
// and returns its ws:// URL.
func startServer(t *testing.T, n int) string {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	db := sqlite.New(sqlite.Options{Path: filepath.Join(t.TempDir(), "ocppd.db")})
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	cps := make([]ocppd.ChargePoint, n)
	for i := range cps {
		cps[i] = ocppd.ChargePoint{ID: fmt.Sprintf("LOAD%06d", i+1), Registration: ocppd.RegistrationAccepted}
	}
	if n > 0 {
		if err := db.AddChargePoints(ctx, cps); err != nil {
			t.Fatal(err)
		}
	}
	broker := embedded.New(embedded.Options{Logger: logger})
	if err := broker.Start(); err != nil {
		t.Fatal(err)
	}
	// SweepInterval: an hour, so that no command sweep is in flight when
	// the test closes the service (see the report: store/sqlite write
	// returning on ctx.Done while its fn still runs).
	svc := csms.New(csms.Options{Bus: broker, Store: db, Logger: logger, SweepInterval: time.Hour})
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(gateway.Options{Bus: broker, Topics: bus.Topics{}, Logger: logger})
	if err := gw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(func() {
		srv.Close()
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = gw.Shutdown(sctx)
		_ = svc.Close()
		_ = broker.Close()
		_ = db.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// checkClean asserts what every clean run must show: every station
// connected once and Boot-Accepted, every call answered, nothing lost,
// mismatched or disconnected unexpectedly.
func checkClean(t *testing.T, r *Report, n int) {
	t.Helper()
	c := r.Connections
	if c.Made < int64(n) || c.Failed != 0 || c.Unexpected != 0 {
		t.Errorf("connections: %+v, want %d made and none failed or lost", c, n)
	}
	if r.Boot.Accepted < int64(n) {
		t.Errorf("boot accepted %d, want ≥ %d", r.Boot.Accepted, n)
	}
	if r.Calls.Sent == 0 || r.Calls.Sent != r.Calls.Results+r.Calls.Errors || r.Calls.Lost != 0 {
		t.Errorf("calls: %+v, want every call answered", r.Calls)
	}
	if r.IDMismatches != 0 || r.LateAnswers != 0 {
		t.Errorf("id mismatches %d, late answers %d, want 0", r.IDMismatches, r.LateAnswers)
	}
	if r.Latency.Count != uint64(r.Calls.Results+r.Calls.Errors) {
		t.Errorf("latency count %d, want one per answer (%d)", r.Latency.Count, r.Calls.Results+r.Calls.Errors)
	}
}

func TestHeartbeatAgainstServer(t *testing.T) {
	const n = 50
	url := startServer(t, n)
	r, err := Run(t.Context(), Config{
		URL: url, Stations: n, Scenario: Heartbeat, Duration: 3 * time.Second,
		Versions: []VersionWeight{{ocpp.V16, 30}, {ocpp.V201, 70}},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, r, n)
	if c := r.Connections; c.Made != n || c.Attempted != n {
		t.Errorf("connections made %d of %d attempted, want exactly %d", c.Made, c.Attempted, n)
	}
	if r.Boot.Accepted != n || r.Actions["BootNotification"].Sent != n {
		t.Errorf("boot: %+v, BootNotification %+v: want %d each", r.Boot, r.Actions["BootNotification"], n)
	}
	hb := r.Actions["Heartbeat"]
	if hb.Results == 0 || hb.Errors != 0 || len(r.CallErrors) != 0 {
		t.Errorf("Heartbeat %+v, CALLERRORs %v: want results and no errors", hb, r.CallErrors)
	}
	if r.Versions["1.6"] != 15 || r.Versions["2.0.1"] != 35 {
		t.Errorf("versions %v, want 15× 1.6 and 35× 2.0.1", r.Versions)
	}
	if !r.Check(ptr(0.0), nil) {
		t.Errorf("a clean run fails --max-error-rate 0: %v", r.Thresholds.Violations)
	}
}

func TestPacedHeartbeat(t *testing.T) {
	const n = 20
	url := startServer(t, n)
	r, err := Run(t.Context(), Config{URL: url, Stations: n, Scenario: Heartbeat, Rate: 100, Duration: 2 * time.Second}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, r, n)
	// 100/s for under 2 s: far fewer than a closed loop would send.
	if hb := r.Actions["Heartbeat"]; hb.Sent == 0 || hb.Sent > 250 {
		t.Errorf("paced Heartbeat sent %d, want between 1 and 250", hb.Sent)
	}
}

func TestStormAgainstServer(t *testing.T) {
	const n = 100
	url := startServer(t, n)
	r, err := Run(t.Context(), Config{URL: url, Stations: n, Scenario: Storm, Duration: time.Minute}, Options{StormHold: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Storm == nil || r.Storm.Dropped != n || r.Storm.Recovered != n || !r.Storm.AllRecovered {
		t.Fatalf("storm %+v, want %d dropped and all recovered", r.Storm, n)
	}
	if r.Storm.RecoverySeconds <= 0 || r.Storm.Reconnect.Count != n {
		t.Errorf("storm recovery %.3fs over %d stations, want > 0 over %d", r.Storm.RecoverySeconds, r.Storm.Reconnect.Count, n)
	}
	// Each station connected twice and booted twice; the drop itself is
	// not an unexpected disconnect.
	if c := r.Connections; c.Made != 2*n || c.Unexpected != 0 || c.Failed != 0 {
		t.Errorf("connections %+v, want %d made, none failed or unexpected", c, 2*n)
	}
	if r.Boot.Accepted != 2*n {
		t.Errorf("boot accepted %d, want %d", r.Boot.Accepted, 2*n)
	}
	if r.Calls.Sent != r.Calls.Results || r.IDMismatches != 0 {
		t.Errorf("calls %+v, mismatches %d: want all answered", r.Calls, r.IDMismatches)
	}
	if !r.Check(nil, nil) {
		t.Errorf("a recovered storm fails: %v", r.Thresholds.Violations)
	}
}

func TestMultiProcessAggregation(t *testing.T) {
	const workers, per = 2, 20
	url := startServer(t, workers*per)
	r, err := Run(t.Context(), Config{
		URL: url, Stations: workers * per, Workers: workers, Scenario: Heartbeat, Duration: 3 * time.Second,
		Versions: []VersionWeight{{ocpp.V16, 1}, {ocpp.V201, 1}},
	}, Options{WorkerCommand: testWorkerCommand})
	if err != nil {
		t.Fatal(err)
	}
	if r.Workers != workers {
		t.Errorf("workers %d, want %d", r.Workers, workers)
	}
	checkClean(t, r, workers*per)
	if c := r.Connections; c.Made != workers*per || c.Peak != workers*per {
		t.Errorf("connections %+v, want %d made and at peak (each worker its own stations)", c, workers*per)
	}
	if r.Boot.Accepted != workers*per {
		t.Errorf("boot accepted %d, want %d: the workers' ids overlap or are missing", r.Boot.Accepted, workers*per)
	}
	// The merged histogram holds every worker's observations.
	if got, want := r.Actions["Heartbeat"].Latency.Count, uint64(r.Actions["Heartbeat"].Results); got != want {
		t.Errorf("merged Heartbeat latency count %d, want %d", got, want)
	}
}

func TestUnregisteredStationsAreCounted(t *testing.T) {
	url := startServer(t, 0)
	r, err := Run(t.Context(), Config{URL: url, Stations: 3, Scenario: Idle, Duration: time.Second}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The CSMS rejects unknown stations' boots (the gateway alone admits
	// every id); the report says so.
	if r.Boot.Rejected == 0 || r.Boot.Accepted != 0 {
		t.Errorf("boot %+v, want rejections only", r.Boot)
	}
	if r.SteadySeconds != 0 {
		t.Errorf("steady %.1fs, want 0: the fleet was never accepted", r.SteadySeconds)
	}
}

func TestRefusesRemoteTargets(t *testing.T) {
	for _, c := range []Config{
		{URL: "ws://example.com:8080", Stations: 1},
		{URL: "ws://10.0.0.1:8080", Stations: 1},
		{URL: "ws://127.0.0.1:8080", Stations: 1, SrcIPs: []string{"10.0.0.2"}},
	} {
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("Validate(%+v) = %v, want a loopback refusal", c, err)
		}
		c.AllowRemote = true
		if err := c.Validate(); err != nil {
			t.Errorf("with AllowRemote: %v", err)
		}
	}
	for _, u := range []string{"ws://127.0.0.1:1", "ws://localhost:1/ocpp", "ws://[::1]:1"} {
		if err := (Config{URL: u, Stations: 1}).Validate(); err != nil {
			t.Errorf("Validate(%s) = %v", u, err)
		}
	}
}

func TestVersionMix(t *testing.T) {
	mix, err := ParseVersionMix("1.6=30, 2.0.1=70")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Versions: mix}
	all := cfg.versionsFor(100)
	count := map[ocpp.Version]int{}
	for _, v := range all {
		count[v]++
	}
	if count[ocpp.V16] != 30 || count[ocpp.V201] != 70 {
		t.Errorf("100 stations: %v, want 30/70", count)
	}
	// A worker's share continues the whole run's sequence.
	cfg.Index = 40
	if got := cfg.versionsFor(60); fmt.Sprint(got) != fmt.Sprint(all[40:]) {
		t.Errorf("versions from index 40 differ from the whole run's")
	}
	for _, bad := range []string{"", "1.5=1", "1.6=-1", "1.6=x", "1.6,1.6", "1.6=0"} {
		mix, err := ParseVersionMix(bad)
		if err == nil {
			err = Config{URL: "ws://127.0.0.1:1", Stations: 1, Versions: mix}.Validate()
		}
		if err == nil {
			t.Errorf("mix %q accepted", bad)
		}
	}
	if formatMix(mix) != "1.6=30,2.0.1=70" {
		t.Errorf("formatMix = %q", formatMix(mix))
	}
}

func TestSplitConfig(t *testing.T) {
	cfg := Config{Stations: 5, Rate: 100, Index: 0}
	parts := splitConfig(cfg, 2)
	if parts[0].Stations != 3 || parts[1].Stations != 2 || parts[1].Index != 3 {
		t.Errorf("split: %+v", parts)
	}
	if parts[0].Rate != 60 || parts[1].Rate != 40 {
		t.Errorf("rates %v %v, want 60 and 40", parts[0].Rate, parts[1].Rate)
	}
	if parts[1].stationID(0) != "LOAD000004" && parts[1].withDefaults().stationID(0) != "LOAD000004" {
		t.Errorf("second worker starts at %s", parts[1].withDefaults().stationID(0))
	}
}

func ptr[T any](v T) *T { return &v }
