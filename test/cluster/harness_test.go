// Package cluster holds the scale-out integration tests: the real ocppd
// binary, built once, run as several gateway and CSMS processes on an
// external MQTT broker and PostgreSQL, behind HAProxy, driven by simulated
// stations in the test process. They skip with a clear message when
// OCPPD_TEST_MQTT_URL or OCPPD_TEST_POSTGRES_URL is unset or haproxy is
// missing; .ci/run sets both variables.
package cluster

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store/postgres"
)

// waitFor bounds every wait of the tests; it only keeps a broken cluster
// from hanging, it is not a performance assertion.
const waitFor = 60 * time.Second

// env is what the cluster tests need from the machine.
type env struct {
	mqttURL string
	pgURL   string
}

// needServices returns the services or skips the test.
func needServices(t testing.TB) env {
	t.Helper()
	e := env{mqttURL: os.Getenv("OCPPD_TEST_MQTT_URL"), pgURL: os.Getenv("OCPPD_TEST_POSTGRES_URL")}
	if e.mqttURL == "" {
		t.Skip("OCPPD_TEST_MQTT_URL not set (e.g. mqtt://127.0.0.1:1883 with Mosquitto 2); skipping the cluster test")
	}
	if e.pgURL == "" {
		t.Skip("OCPPD_TEST_POSTGRES_URL not set (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable); skipping the cluster test")
	}
	return e
}

// needBinary returns the path of an executable or skips the test.
func needBinary(t testing.TB, name string, alt ...string) string {
	t.Helper()
	for _, n := range append([]string{name}, alt...) {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		if _, err := os.Stat(n); err == nil {
			return n
		}
	}
	t.Skipf("%s not installed (Debian: apt-get install %s); skipping the cluster test", name, name)
	return ""
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
	buildDir  string
)

// TestMain removes the binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// ocppdBinary builds cmd/ocppd once per test run.
func ocppdBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "ocppd-cluster-")
		if buildErr != nil {
			return
		}
		buildPath = filepath.Join(buildDir, "ocppd")
		cmd := exec.Command("go", "build", "-o", buildPath, "github.com/ocppd/ocppd/cmd/ocppd")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

func randomName(prefix string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// freeAddr returns a loopback address with a port that was free a moment
// ago (for HAProxy's and Mosquitto's listeners, which must be named in
// their configuration).
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// schemaStore opens the store on a fresh schema of the test database and
// drops the schema when the test ends, so that reruns start clean.
func schemaStore(t testing.TB, pgURL string) (*postgres.DB, string) {
	t.Helper()
	schema := randomName("cluster_")
	db := postgres.New(postgres.Options{URL: pgURL, Schema: schema})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := db.Open(ctx); err != nil {
		t.Fatalf("open PostgreSQL store: %v", err)
	}
	t.Cleanup(func() {
		_ = db.Close()
		conn, err := pgx.Connect(context.Background(), pgURL)
		if err != nil {
			t.Logf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	return db, schema
}

// register adds stations as Accepted.
func register(t testing.TB, db *postgres.DB, ids []string) {
	t.Helper()
	cps := make([]ocppd.ChargePoint, len(ids))
	for i, id := range ids {
		cps[i] = ocppd.ChargePoint{ID: id, Registration: ocppd.RegistrationAccepted, RegisteredAt: time.Now().UTC()}
	}
	if err := db.AddChargePoints(context.Background(), cps); err != nil {
		t.Fatal(err)
	}
}

// proc is one ocppd process of the cluster.
type proc struct {
	t    testing.TB
	name string
	bin  string
	args []string

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	ocppAddr string
	httpAddr string
	logPath  string
}

// start runs the process and waits for its "ocppd is running" log line,
// which names the addresses it is bound to.
func (p *proc) start() {
	p.t.Helper()
	cmd := exec.Command(p.bin, append([]string{"serve"}, p.args...)...)
	cmd.Env = append(os.Environ(), "OCPPD_CONFIG=") // no config file from the environment
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	exited := make(chan struct{})
	running := make(chan map[string]any, 1)
	go func() {
		defer logFile.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			fmt.Fprintf(logFile, "%s\n", line)
			var rec map[string]any
			if json.Unmarshal(line, &rec) == nil && rec["msg"] == "ocppd is running" {
				select {
				case running <- rec:
				default:
				}
			}
		}
		_, _ = io.Copy(logFile, stderr)
		_ = cmd.Wait()
		close(exited)
	}()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	select {
	case rec := <-running:
		p.ocppAddr, _ = rec["ocpp"].(string)
		p.httpAddr, _ = rec["http"].(string)
	case <-exited:
		p.t.Fatalf("%s exited at start; its log:\n%s", p.name, p.tail())
	case <-time.After(waitFor):
		p.t.Fatalf("%s did not start; its log:\n%s", p.name, p.tail())
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL)
}

// stop sends SIGTERM (a clean shutdown) and waits for the exit.
func (p *proc) stop() {
	p.signal(syscall.SIGTERM)
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(waitFor):
		_ = cmd.Process.Kill()
		p.t.Errorf("%s did not exit on %v", p.name, sig)
		<-exited
	}
}

// tail returns the last lines of the process's log, leaving out the
// per-station connected and disconnected lines.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.logPath)
	var keep []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, `"msg":"connected"`) && !strings.Contains(line, `"msg":"disconnected"`) {
			keep = append(keep, line)
		}
	}
	if len(keep) > 80 {
		keep = keep[len(keep)-80:]
	}
	return strings.Join(keep, "\n")
}

// cluster is a set of ocppd processes on one broker, database schema and
// topic prefix.
type cluster struct {
	t       testing.TB
	bin     string
	dir     string
	broker  string
	pgURL   string
	schema  string
	prefix  string
	db      *postgres.DB
	procs   []*proc
	extra   []string // more flags for every process
	started time.Time
}

func newCluster(t testing.TB, brokerURL, pgURL string) *cluster {
	t.Helper()
	c := &cluster{t: t, bin: ocppdBinary(t), dir: t.TempDir(), broker: brokerURL, pgURL: pgURL, prefix: randomName("cluster") + "/", started: time.Now()}
	c.db, c.schema = schemaStore(t, pgURL)
	t.Cleanup(func() {
		for _, p := range c.procs {
			p.stop()
		}
		if t.Failed() {
			for _, p := range c.procs {
				t.Logf("--- log of %s (%s) ---\n%s", p.name, p.logPath, p.tail())
			}
		}
	})
	return c
}

// add starts an ocppd process with roles and gateway id id.
func (c *cluster) add(id, roles string, more ...string) *proc {
	c.t.Helper()
	args := []string{
		"--roles", roles,
		"--gateway-id", id,
		"--broker", c.broker,
		"--db", c.pgURL, "--db-schema", c.schema,
		"--topic-prefix", c.prefix,
		"--ocpp-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0",
		"--log-format", "json",
		"--log-level", "info",
		"--shutdown-timeout", "20",
		"--data-dir", filepath.Join(c.dir, id), // files a role keeps beside the store (e.g. the upload-token secret)
	}
	args = append(append(args, c.extra...), more...)
	p := &proc{t: c.t, name: id, bin: c.bin, args: args, logPath: filepath.Join(c.dir, id+".log")}
	p.start()
	c.procs = append(c.procs, p)
	return p
}

// haproxy runs HAProxy in TCP mode in front of gateways, with a
// configuration of deploy/haproxy.cfg's shape (leastconn, /readyz health
// checks on the operator port, redispatch) and test-sized timers. It
// returns the ws:// base URL stations use.
func (c *cluster) haproxy(gateways ...*proc) string {
	c.t.Helper()
	bin := needBinary(c.t, "haproxy", "/usr/sbin/haproxy")
	front := freeAddr(c.t)
	var servers strings.Builder
	for _, g := range gateways {
		_, hport, _ := net.SplitHostPort(g.httpAddr)
		fmt.Fprintf(&servers, "    server %s %s check port %s\n", g.name, g.ocppAddr, hport)
	}
	cfg := fmt.Sprintf(`global
    maxconn 4000

defaults
    mode tcp
    option redispatch
    retries 3
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    timeout client-fin 5s
    timeout server-fin 5s

frontend ocpp
    bind %s
    default_backend gateways

backend gateways
    balance leastconn
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    default-server inter 300ms fall 1 rise 2 maxconn 2000
%s`, front, servers.String())
	path := filepath.Join(c.dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		c.t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
		c.t.Fatalf("haproxy -c: %v\n%s\n%s", err, out, cfg)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	logPath := filepath.Join(c.dir, "haproxy.log")
	lf, err := os.Create(logPath)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start haproxy: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); lf.Close(); close(exited) }()
	c.t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	// Ready when it accepts connections and sees every gateway up.
	deadline := time.Now().Add(waitFor)
	for {
		conn, err := net.DialTimeout("tcp", front, time.Second)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			c.t.Fatalf("haproxy does not listen on %s: %v\n%s", front, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // health checks: rise 2 × inter 300ms
	return "ws://" + front
}

// ready reports whether p's /readyz answers 200.
func ready(p *proc) bool {
	resp, err := http.Get("http://" + p.httpAddr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// eventually polls cond until it holds or waitFor passes.
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func dialTCP(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, time.Second) }
