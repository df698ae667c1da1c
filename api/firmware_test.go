package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocppd/ocppd/csms"
	"github.com/ocppd/ocppd/files"
	"github.com/ocppd/ocppd/store"
)

// upload posts body to path with content type ct and token.
func (e *env) upload(path, token, ct string, body []byte) response {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.http.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestFirmwareImages: upload (raw and multipart), content addressing,
// checksum check, size limit, list, get, auth, and the errors naming
// their field.
func TestFirmwareImages(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Firmware = files.New(files.Options{Dir: t.TempDir(), PublicURL: "http://fw.example:8080/"})
		o.FirmwareMaxBytes = 512
	})
	img := []byte("FIRMWARE 2.0")
	want(t, e.upload("/api/v1/firmware?name=fw.bin", "", "application/octet-stream", img), http.StatusUnauthorized)
	want(t, e.upload("/api/v1/firmware?name=fw.bin", e.readOnly, "application/octet-stream", img), http.StatusForbidden)

	r := e.upload("/api/v1/firmware?name=fw-2.0.bin&sha256="+sum(img), e.admin, "application/octet-stream", img)
	want(t, r, http.StatusCreated)
	var got firmwareImage
	r.decode(t, &got)
	if got.SHA256 != sum(img) || got.Name != "fw-2.0.bin" || got.Size != int64(len(img)) || got.UploadedAt.IsZero() ||
		got.URL != "http://fw.example:8080/firmware/"+sum(img)+"/fw-2.0.bin" {
		t.Fatalf("uploaded %+v", got)
	}
	if r.header.Get("Location") != "/api/v1/firmware/"+got.SHA256 {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
	// The same bytes again: 200, the image as first recorded.
	r = e.upload("/api/v1/firmware?name=other.bin", e.admin, "", img)
	want(t, r, http.StatusOK)
	var again firmwareImage
	r.decode(t, &again)
	if again.SHA256 != got.SHA256 || again.Name != "fw-2.0.bin" {
		t.Errorf("re-upload = %+v", again)
	}

	// Multipart: the file part's name.
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("comment", "ignored")
	fw, _ := mw.CreateFormFile("file", "fw-3.0.bin")
	img3 := []byte("FIRMWARE 3.0")
	fw.Write(img3)
	mw.Close()
	r = e.upload("/api/v1/firmware", e.admin, mw.FormDataContentType(), mp.Bytes())
	want(t, r, http.StatusCreated)
	r.decode(t, &got)
	if got.Name != "fw-3.0.bin" || got.SHA256 != sum(img3) {
		t.Errorf("multipart upload = %+v", got)
	}

	// Bad input.
	want(t, e.upload("/api/v1/firmware", e.admin, "application/octet-stream", img), http.StatusBadRequest, "name")
	want(t, e.upload("/api/v1/firmware?name=x.bin", e.admin, "application/octet-stream", nil), http.StatusBadRequest, "file")
	want(t, e.upload("/api/v1/firmware?name=x.bin&sha256=abc", e.admin, "", img), http.StatusBadRequest, "sha256")
	want(t, e.upload("/api/v1/firmware?name=x.bin&sha256="+strings.Repeat("0", 64), e.admin, "", []byte("other")), http.StatusBadRequest, "sha256")
	want(t, e.upload("/api/v1/firmware?name=big.bin", e.admin, "", bytes.Repeat([]byte("x"), 513)), http.StatusRequestEntityTooLarge, "file")
	want(t, e.upload("/api/v1/firmware", e.admin, "multipart/form-data; boundary=xyz", []byte("--xyz--\r\n")), http.StatusBadRequest, "file")

	var l List[firmwareImage]
	r = e.do("GET", "/api/v1/firmware", e.readOnly, nil)
	want(t, r, http.StatusOK)
	r.decode(t, &l)
	if len(l.Items) != 2 {
		t.Fatalf("list = %+v (the refused uploads must not be listed)", l)
	}
	r = e.do("GET", "/api/v1/firmware/"+strings.ToUpper(sum(img)), e.readOnly, nil)
	want(t, r, http.StatusOK)
	r.decode(t, &got)
	if got.Name != "fw-2.0.bin" {
		t.Errorf("get = %+v", got)
	}
	want(t, e.do("GET", "/api/v1/firmware/"+strings.Repeat("0", 64), e.admin, nil), http.StatusNotFound)
	want(t, e.do("GET", "/api/v1/firmware", "", nil), http.StatusUnauthorized)
}

// TestFirmwareNotAvailable: without a files store the routes answer 501.
func TestFirmwareNotAvailable(t *testing.T) {
	e := newEnv(t)
	want(t, e.do("GET", "/api/v1/firmware", e.admin, nil), http.StatusNotImplemented)
	want(t, e.upload("/api/v1/firmware?name=a", e.admin, "", []byte("x")), http.StatusNotImplemented)
}

// fakeStations answers the CALLs published to the stations' out topics
// with the given payload per station, and keeps the requests.
type fakeStations struct {
	mu       sync.Mutex
	requests map[string][]json.RawMessage // by station: the CALL payloads
	answer   map[string]string
}

func (f *fakeStations) last(cp string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	rs := f.requests[cp]
	if len(rs) == 0 {
		return nil
	}
	var m map[string]any
	_ = json.Unmarshal(rs[len(rs)-1], &m)
	return m
}

// TestFirmwareRollouts: a rollout to a 2.0.1 and a 1.6 station sends each
// the UpdateFirmware of its version with the image's URL; progress follows
// the commands and the FirmwareStatusNotifications that belong to the
// rollout; the errors (400 naming the field, 404, 409); "all" skips the
// stations that cannot be updated now.
func TestFirmwareRollouts(t *testing.T) {
	var svc *csms.Service
	e := newEnv(t, func(o *Options) {
		svc = csms.New(csms.Options{Bus: o.Bus, Topics: o.Topics, Store: o.Store, PollInterval: 50 * time.Millisecond})
		o.Commands = svc
		o.Firmware = files.New(files.Options{Dir: t.TempDir(), PublicURL: "http://fw.example"})
	})
	ctx := context.Background()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	e.addCP("CP1", "CP2", "CP3", "NEVER")
	for cp, v := range map[string]string{"CP1": "ocpp2.0.1", "CP2": "ocpp1.6", "CP3": "ocpp2.0.1"} {
		if err := e.store.RecordConnected(ctx, store.Connection{ChargePointID: cp, SessionID: "s-" + cp, Protocol: v, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	// CP3 goes offline: its commands stay queued.
	if err := e.store.RecordDisconnected(ctx, "CP3", "s-CP3", time.Now()); err != nil {
		t.Fatal(err)
	}
	f := &fakeStations{requests: map[string][]json.RawMessage{}, answer: map[string]string{"CP1": `{"status":"Accepted"}`, "CP2": `{}`}}
	for _, cp := range []string{"CP1", "CP2"} {
		sub, err := e.bus.Subscribe(ctx, e.topics.Out(cp), func(m busMessage) {
			var frame []json.RawMessage
			if json.Unmarshal(m.Payload, &frame) != nil || string(frame[0]) != "2" {
				return
			}
			var id string
			_ = json.Unmarshal(frame[1], &id)
			f.mu.Lock()
			f.requests[cp] = append(f.requests[cp], frame[3])
			a := f.answer[cp]
			f.mu.Unlock()
			go e.publish(e.topics.In(cp), fmt.Sprintf(`[3,%q,%s]`, id, a))
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe(ctx)
	}
	img := []byte("FIRMWARE 4.2")
	want(t, e.upload("/api/v1/firmware?name=fw-4.2.bin", e.admin, "", img), http.StatusCreated)
	sha := sum(img)
	url := "http://fw.example/firmware/" + sha + "/fw-4.2.bin"
	path := "/api/v1/firmware/" + sha + "/rollouts"

	// Bad input, unknown things, conflicts: nothing is sent.
	want(t, e.do("POST", path, "", map[string]any{"chargePoints": []string{"CP1"}}), http.StatusUnauthorized)
	want(t, e.do("POST", path, e.readOnly, map[string]any{"chargePoints": []string{"CP1"}}), http.StatusForbidden)
	want(t, e.do("POST", path, e.admin, map[string]any{}), http.StatusBadRequest, "chargePoints")
	want(t, e.do("POST", path, e.admin, map[string]any{"chargePoints": []string{"CP1"}, "all": true}), http.StatusBadRequest, "all")
	want(t, e.do("POST", path, e.admin, map[string]any{"chargePoints": []string{"CP1", ""}}), http.StatusBadRequest, "chargePoints[1]")
	want(t, e.do("POST", path, e.admin, map[string]any{"chargePoints": []string{"CP1"}, "retries": -1}), http.StatusBadRequest, "retries")
	want(t, e.do("POST", path, e.admin, map[string]any{"chargePoints": []string{"CP1"}, "retryInterval": "soon"}), http.StatusBadRequest, "retryInterval")
	want(t, e.do("POST", path, e.admin, map[string]any{"chargePoints": []string{"CP1"}, "retrieveAt": "tomorrow"}), http.StatusBadRequest, "retrieveAt")
	want(t, e.do("POST", path, e.admin, map[string]any{"chargePoints": []string{"CP1"}, "timeout": "soon"}), http.StatusBadRequest, "timeout")
	want(t, e.do("POST", path, e.admin, map[string]any{"chargePoints": []string{"CP1"}, "signature": strings.Repeat("A", 801)}), http.StatusBadRequest, "signature")
	want(t, e.do("POST", path, e.admin, map[string]any{"chargePoints": []string{"CP1"}, "colour": "red"}), http.StatusBadRequest, "colour")
	want(t, e.do("POST", path, e.admin, map[string]any{"chargePoints": []string{"CP1", "NOPE"}}), http.StatusNotFound, "chargePoints[1]")
	want(t, e.do("POST", path, e.admin, map[string]any{"chargePoints": []string{"NEVER"}}), http.StatusConflict, "chargePoints[0]")
	want(t, e.do("POST", "/api/v1/firmware/"+strings.Repeat("0", 64)+"/rollouts", e.admin, map[string]any{"chargePoints": []string{"CP1"}}), http.StatusNotFound)
	if f.last("CP1") != nil || f.last("CP2") != nil {
		t.Fatal("a refused rollout sent commands")
	}

	retrieve := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	r := e.do("POST", path, e.admin, map[string]any{"chargePoints": []string{"CP1", "CP2", "CP1"}, "retrieveAt": "2030-01-02T04:04:05+01:00", "retries": 2, "retryInterval": 30})
	want(t, r, http.StatusCreated)
	var p rolloutProgress
	r.decode(t, &p)
	if r.header.Get("Location") != "/api/v1/firmware/rollouts/"+p.ID || p.ID == "" {
		t.Errorf("Location %q, id %q", r.header.Get("Location"), p.ID)
	}
	if p.Location != url || p.Firmware.SHA256 != sha || !p.RetrieveAt.Equal(retrieve) || len(p.Stations) != 2 || p.Summary.Total != 2 {
		t.Fatalf("rollout = %+v", p)
	}
	cp1, cp2 := p.Stations[0], p.Stations[1]
	if cp1.ChargePointID != "CP1" || cp1.RequestID == nil || cp1.CommandID == "" || cp2.ChargePointID != "CP2" || cp2.RequestID != nil || cp2.CommandID == "" {
		t.Fatalf("stations = %+v", p.Stations)
	}

	// The payloads, per version.
	eventuallyAPI(t, "both stations got UpdateFirmware", func() bool { return f.last("CP1") != nil && f.last("CP2") != nil })
	req2 := f.last("CP1")
	fw2, _ := req2["firmware"].(map[string]any)
	if req2["requestId"] != float64(*cp1.RequestID) || fw2["location"] != url || fw2["retrieveDateTime"] != "2030-01-02T03:04:05Z" ||
		req2["retries"] != float64(2) || req2["retryInterval"] != float64(30) || req2["location"] != nil {
		t.Errorf("2.0.1 UpdateFirmware = %v", req2)
	}
	req16 := f.last("CP2")
	if req16["location"] != url || req16["retrieveDate"] != "2030-01-02T03:04:05Z" || req16["retries"] != float64(2) ||
		req16["retryInterval"] != float64(30) || req16["requestId"] != nil || req16["firmware"] != nil {
		t.Errorf("1.6 UpdateFirmware = %v", req16)
	}

	get := func() rolloutProgress {
		t.Helper()
		r := e.do("GET", "/api/v1/firmware/rollouts/"+p.ID, e.readOnly, nil)
		want(t, r, http.StatusOK)
		var p rolloutProgress
		r.decode(t, &p)
		return p
	}
	eventuallyAPI(t, "both commands answered", func() bool {
		p := get()
		return p.Stations[0].Command.State == store.CommandAnswered && p.Stations[1].Command.State == store.CommandAnswered
	})
	p = get()
	for _, sp := range p.Stations {
		if sp.Phase != phaseUpdating || sp.Command.Status != "Accepted" || sp.FirmwareStatus != nil {
			t.Errorf("after the answers: %+v %+v", sp, sp.Command)
		}
	}
	if p.Summary.Updating != 2 || p.Summary.Done {
		t.Errorf("summary %+v", p.Summary)
	}

	// Statuses: only those of the rollout count.
	event := func(cp, status string, payload string, at time.Time) {
		t.Helper()
		if err := e.store.AddStationEvent(ctx, store.StationEvent{ChargePointID: cp, Action: "FirmwareStatusNotification",
			Status: status, Timestamp: at, ReceivedAt: at, Payload: json.RawMessage(payload)}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC().Add(time.Second)
	rid := *cp1.RequestID
	event("CP1", "Downloading", fmt.Sprintf(`{"status":"Downloading","requestId":%d}`, rid), now)
	event("CP1", "Installed", fmt.Sprintf(`{"status":"Installed","requestId":%d}`, rid+1), now.Add(time.Second)) // another update's
	event("CP2", "Installed", `{"status":"Installed"}`, now.Add(-time.Hour))                                     // before the rollout
	event("CP2", "Downloaded", `{"status":"Downloaded"}`, now)
	p = get()
	if fs := p.Stations[0].FirmwareStatus; fs == nil || fs.Status != "Downloading" || p.Stations[0].Phase != phaseUpdating {
		t.Errorf("CP1 progress %+v %+v", p.Stations[0], fs)
	}
	if fs := p.Stations[1].FirmwareStatus; fs == nil || fs.Status != "Downloaded" || !fs.Timestamp.Equal(now.Truncate(time.Millisecond)) || p.Stations[1].Phase != phaseUpdating {
		t.Errorf("CP2 progress %+v %+v", p.Stations[1], fs)
	}
	event("CP1", "Installed", fmt.Sprintf(`{"status":"Installed","requestId":%d}`, rid), now.Add(2*time.Second))
	event("CP2", "InstallationFailed", `{"status":"InstallationFailed"}`, now.Add(2*time.Second))
	p = get()
	if p.Stations[0].Phase != phaseInstalled || p.Stations[1].Phase != phaseFailed || p.Stations[1].FirmwareStatus.Status != "InstallationFailed" {
		t.Errorf("final phases %s %s", p.Stations[0].Phase, p.Stations[1].Phase)
	}
	if s := p.Summary; s.Installed != 1 || s.Failed != 1 || !s.Done {
		t.Errorf("final summary %+v", s)
	}

	// CP3 is offline: its command stays queued (pending), and a second
	// rollout to it conflicts.
	r = e.do("POST", path, e.admin, map[string]any{"chargePoints": []string{"CP3"}})
	want(t, r, http.StatusCreated)
	r.decode(t, &p)
	if p.Stations[0].Phase != phasePending || p.Stations[0].Command.State != store.CommandQueued || p.Summary.Done {
		t.Errorf("offline station %+v %+v", p.Stations[0], p.Summary)
	}
	want(t, e.do("POST", path, e.admin, map[string]any{"chargePoints": []string{"CP3"}}), http.StatusConflict, "chargePoints[0]")

	// all: CP1 and CP2 get it; CP3 (queued command) and NEVER are skipped.
	r = e.do("POST", path, e.admin, map[string]any{"all": true})
	want(t, r, http.StatusCreated)
	r.decode(t, &p)
	phases := map[string]string{}
	for _, sp := range p.Stations {
		phases[sp.ChargePointID] = sp.Phase
		if sp.Phase == phaseSkipped && sp.Error == "" {
			t.Errorf("%s skipped without a reason", sp.ChargePointID)
		}
	}
	if phases["CP3"] != phaseSkipped || phases["NEVER"] != phaseSkipped || phases["CP1"] == phaseSkipped || phases["CP2"] == phaseSkipped || p.Summary.Skipped != 2 {
		t.Errorf("all: %v %+v", phases, p.Summary)
	}

	var l List[store.FirmwareRollout]
	r = e.do("GET", "/api/v1/firmware/rollouts?firmware="+sha, e.readOnly, nil)
	want(t, r, http.StatusOK)
	r.decode(t, &l)
	if len(l.Items) != 3 || l.Items[0].ID != p.ID || len(l.Items[0].Stations) != 4 {
		t.Errorf("rollouts = %+v", l.Items)
	}
	want(t, e.do("GET", "/api/v1/firmware/rollouts?firmware="+strings.Repeat("0", 64), e.admin, nil), http.StatusNotFound, "firmware")
	want(t, e.do("GET", "/api/v1/firmware/rollouts?limit=0", e.admin, nil), http.StatusBadRequest, "limit")
	want(t, e.do("GET", "/api/v1/firmware/rollouts/nope", e.admin, nil), http.StatusNotFound)
	want(t, e.do("GET", "/api/v1/firmware/rollouts/"+p.ID, "", nil), http.StatusUnauthorized)
}

// eventuallyAPI polls cond until it holds (generous deadline, only to not
// hang).
func eventuallyAPI(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
