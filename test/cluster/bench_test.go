package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/sim"
)

// BenchmarkClusterHeartbeat measures the Heartbeat round trip (station →
// gateway → broker → CSMS → store → broker → gateway → station) of the
// real binary: embedded (one process, embedded broker, SQLite) and split
// over processes on Mosquitto and PostgreSQL with one gateway and one CSMS
// worker, and with two of each behind HAProxy. 100 stations call
// Heartbeat back to back, each one call at a time; ns/op is the cluster's
// time per heartbeat (throughput), p50-ms and p99-ms the latency a station
// sees.
func BenchmarkClusterHeartbeat(b *testing.B) {
	const stations = 100
	b.Run("embedded", func(b *testing.B) {
		c := benchCluster(b, "", "")
		p := &proc{t: c.t, name: "all", bin: c.bin, logPath: filepath.Join(c.dir, "all.log"), args: []string{
			"--ocpp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--mqtt-addr", "",
			"--data-dir", filepath.Join(c.dir, "data"), "--log-level", "info", "--log-format", "json",
		}}
		p.start()
		b.Cleanup(p.stop)
		benchHeartbeats(b, "ws://"+p.ocppAddr, stations, func(ids []string) { registerCLI(b, c.bin, "--data-dir", filepath.Join(c.dir, "data"), ids) })
	})
	for _, gateways := range []int{1, 2} {
		b.Run(fmt.Sprintf("mosquitto+postgres/gateways=%d", gateways), func(b *testing.B) {
			e := benchServices(b)
			c := benchCluster(b, e.mqttURL, e.pgURL)
			run := c.prefix[:len(c.prefix)-1]
			var gws []*proc
			for i := 1; i <= gateways; i++ {
				c.add(fmt.Sprintf("%s-csms%d", run, i), "csms")
				gws = append(gws, c.add(fmt.Sprintf("%s-gw%d", run, i), "gateway"))
			}
			url := "ws://" + gws[0].ocppAddr
			if gateways > 1 {
				url = c.haproxy(gws...)
			}
			benchHeartbeats(b, url, stations, func(ids []string) { register(b, c.db, ids) })
		})
	}
}

// benchServices returns the services or skips the benchmark.
func benchServices(b *testing.B) env {
	e := env{mqttURL: os.Getenv("OCPPD_TEST_MQTT_URL"), pgURL: os.Getenv("OCPPD_TEST_POSTGRES_URL")}
	if e.mqttURL == "" || e.pgURL == "" {
		b.Skip("OCPPD_TEST_MQTT_URL and OCPPD_TEST_POSTGRES_URL must be set for the scale-out benchmark")
	}
	return e
}

// benchCluster adapts newCluster (written for tests) to a benchmark.
func benchCluster(b *testing.B, brokerURL, pgURL string) *cluster {
	if pgURL == "" {
		return &cluster{t: b, bin: ocppdBinary(b), dir: b.TempDir()}
	}
	return newCluster(b, brokerURL, pgURL)
}

// benchHeartbeats connects n stations, boots them, then runs b.N
// Heartbeats spread over them and reports the latency quantiles.
func benchHeartbeats(b *testing.B, url string, n int, register func([]string)) {
	ids := stationIDs("H", n)
	register(ids)
	sts := make([]*sim.Station, n)
	for i, id := range ids {
		sts[i] = sim.New(sim.Options{URL: url, ID: id, Version: ocpp.V201, CallTimeout: waitFor})
		if err := connectAndBoot(context.Background(), sts[i]); err != nil {
			b.Fatal(err)
		}
		defer sts[i].Close()
	}
	var next atomic.Int64
	lat := make([][]time.Duration, n)
	var failed atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	for i, st := range sts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				start := time.Now()
				if _, err := st.Heartbeat(context.Background()); err != nil {
					failed.Store(err)
					return
				}
				lat[i] = append(lat[i], time.Since(start))
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2])/1e6, "p50-ms")
		b.ReportMetric(float64(all[len(all)*99/100])/1e6, "p99-ms")
	}
}

// registerCLI registers stations with `ocppd cp add` (the embedded mode's
// SQLite file is the server's).
func registerCLI(b *testing.B, bin, flag, dir string, ids []string) {
	b.Helper()
	args := append([]string{"cp", "add", flag, dir}, ids...)
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		b.Fatalf("ocppd cp add: %v\n%s", err, out)
	}
}
