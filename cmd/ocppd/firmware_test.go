package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocppd/ocppd/api"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/sim"
)

// apiDo sends method path with a body to the server's operator port.
func apiDo(t *testing.T, srv *server, method, path, token, ct string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+srv.HTTPAddr()+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestFirmwareRolloutEndToEnd: an image uploaded through the operator API
// is rolled out to a 1.6 and a 2.0.1 simulated station, which download it
// from the URL ocppd serves on the OCPP port and walk Downloading →
// Downloaded → Installing → Installed; the rollout's progress shows each
// step's outcome per station. The store's calls are timed in /metrics.
func TestFirmwareRolloutEndToEnd(t *testing.T) {
	ids := map[ocpp.Version]string{ocpp.V16: "FW-16", ocpp.V201: "FW-201"}
	srv := startServer(t, testConfig(t), ids[ocpp.V16], ids[ocpp.V201])
	secret, tok, err := api.NewToken("e2e", false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.store.CreateToken(ctxT(t), tok); err != nil {
		t.Fatal(err)
	}
	chargers := map[string]*sim.Charger{}
	for v, id := range ids {
		chargers[id] = runningCharger(t, srv, id, v, sim.ChargerOptions{})
	}

	image := []byte("FIRMWARE 12.1 " + strings.Repeat("x", 4096))
	code, body := apiDo(t, srv, "POST", "/api/v1/firmware?name=fw-12.1.bin", secret, "application/octet-stream", image)
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, body)
	}
	var img struct{ SHA256, URL string }
	if err := json.Unmarshal(body, &img); err != nil || img.SHA256 == "" {
		t.Fatalf("upload answer %s: %v", body, err)
	}

	req, _ := json.Marshal(map[string]any{"chargePoints": []string{ids[ocpp.V16], ids[ocpp.V201]}})
	code, body = apiDo(t, srv, "POST", "/api/v1/firmware/"+img.SHA256+"/rollouts", secret, "application/json", req)
	if code != http.StatusCreated {
		t.Fatalf("rollout: %d %s", code, body)
	}
	var ro struct{ ID string }
	_ = json.Unmarshal(body, &ro)

	type progress struct {
		Summary  struct{ Installed, Total int }
		Stations []struct {
			ChargePointID  string
			Protocol       string
			RequestID      *int
			Phase          string
			Command        struct{ State, Status string }
			FirmwareStatus *struct {
				Status    string
				Timestamp time.Time
			}
		}
	}
	var p progress
	seen := map[string][]string{} // statuses observed while polling, per station
	eventually(t, "both stations Installed", func() bool {
		code, body := apiGet(t, srv, "/api/v1/firmware/rollouts/"+ro.ID, secret)
		if code != http.StatusOK {
			t.Fatalf("progress: %d %s", code, body)
		}
		p = progress{}
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		for _, st := range p.Stations {
			if fs := st.FirmwareStatus; fs != nil {
				if l := seen[st.ChargePointID]; len(l) == 0 || l[len(l)-1] != fs.Status {
					seen[st.ChargePointID] = append(l, fs.Status)
				}
			}
		}
		return p.Summary.Installed == 2
	})
	if p.Summary.Total != 2 || len(p.Stations) != 2 {
		t.Fatalf("progress %+v", p)
	}
	for _, st := range p.Stations {
		if st.Phase != "installed" || st.Command.State != "answered" || st.Command.Status != "Accepted" ||
			st.FirmwareStatus == nil || st.FirmwareStatus.Status != "Installed" || st.FirmwareStatus.Timestamp.IsZero() {
			t.Errorf("%s: %+v", st.ChargePointID, st)
		}
		if (st.Protocol == string(ocpp.V16)) != (st.RequestID == nil) {
			t.Errorf("%s (%s): requestId %v", st.ChargePointID, st.Protocol, st.RequestID)
		}
		// The statuses the progress showed while polling are steps of
		// the walk, in its order (polling may miss some).
		walk, last := []string{"Downloading", "Downloaded", "Installing", "Installed"}, -1
		for _, s := range seen[st.ChargePointID] {
			i := slices.Index(walk, s)
			if i <= last {
				t.Errorf("%s: statuses seen %v", st.ChargePointID, seen[st.ChargePointID])
				break
			}
			last = i
		}
		if got := chargers[st.ChargePointID].Firmware(); !bytes.Equal(got.Data, image) {
			t.Errorf("%s downloaded %d bytes, want the image's %d", st.ChargePointID, len(got.Data), len(image))
		}
	}
	// The stored notifications are the whole walk, for both versions.
	for _, id := range ids {
		evs, err := srv.store.ListStationEvents(ctxT(t), id, "FirmwareStatusNotification", 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := len(evs) - 1; i >= 0; i-- {
			got = append(got, evs[i].Status)
		}
		if strings.Join(got, ",") != "Downloading,Downloaded,Installing,Installed" {
			t.Errorf("%s: stored statuses %v", id, got)
		}
	}

	// The store's latency is measured.
	code, body = apiGet(t, srv, "/metrics", secret)
	if code != http.StatusOK || !strings.Contains(string(body), `ocppd_store_seconds_count{op="GetChargePoint"}`) {
		t.Errorf("/metrics: %d, no ocppd_store_seconds for GetChargePoint", code)
	}
}
