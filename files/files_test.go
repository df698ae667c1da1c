package files

import (
	"bytes"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func newStore(t *testing.T) (*Store, *httptest.Server) {
	t.Helper()
	s := New(Options{Dir: t.TempDir(), Secret: []byte("k"), MaxUpload: 1 << 10, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	s.SetPublicURL(srv.URL + "/")
	return s, srv
}

func TestFirmwareRoundTrip(t *testing.T) {
	s, _ := newStore(t)
	fw, err := s.PutFirmware(strings.NewReader("image-bytes"), "../../etc/fw v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	if fw.Name != "fw_v1.bin" || fw.Size != 11 || len(fw.SHA256) != 64 || !strings.HasSuffix(fw.URL, "/firmware/"+fw.SHA256+"/fw_v1.bin") {
		t.Fatalf("PutFirmware = %+v", fw)
	}
	again, _ := s.PutFirmware(strings.NewReader("image-bytes"), "other.bin")
	if again.SHA256 != fw.SHA256 {
		t.Errorf("same content, different address: %s %s", again.SHA256, fw.SHA256)
	}
	resp, err := http.Get(fw.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "image-bytes" || resp.Header.Get("ETag") == "" {
		t.Errorf("download: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	for _, p := range []string{"/firmware/" + strings.Repeat("0", 64) + "/x", "/firmware/../x/y", "/firmware/abc/x"} {
		resp, err := http.Get(s.PublicURL() + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404", p, resp.StatusCode)
		}
	}
	if _, err := s.PutFirmware(bytes.NewReader(make([]byte, 2<<10)), "big.bin"); err == nil {
		t.Error("an image over MaxUpload was stored")
	}
}

func TestLogUploads(t *testing.T) {
	s, srv := newStore(t)
	loc := s.LogUploadURL("CP/1")
	// 2.x style: PUT to the location plus a file name.
	req, _ := http.NewRequest(http.MethodPut, loc+"diag.zip", strings.NewReader("zipdata"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT = %d", resp.StatusCode)
	}
	// 1.6 style: multipart POST to the location itself.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("note", "x")
	fw, _ := mw.CreateFormFile("file", "log.txt")
	fw.Write([]byte("log lines"))
	mw.Close()
	s.opts.Now = func() time.Time { return time.Date(2025, 6, 1, 12, 0, 1, 0, time.UTC) }
	resp, err = http.Post(loc+"x", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("multipart POST = %d", resp.StatusCode)
	}
	logs, err := s.Logs("CP/1")
	if err != nil || len(logs) != 2 {
		t.Fatalf("Logs = %+v, %v", logs, err)
	}
	if !strings.HasSuffix(logs[0].Name, "-log.txt") || !strings.HasSuffix(logs[1].Name, "-diag.zip") {
		t.Errorf("names = %s, %s", logs[0].Name, logs[1].Name)
	}
	if b, _ := os.ReadFile(logs[0].Path); string(b) != "log lines" {
		t.Errorf("multipart content = %q", b)
	}
	// A forged location and an oversized file are refused.
	for _, tc := range []struct {
		url  string
		body string
		want int
	}{
		{srv.URL + "/logs/CP2/" + strings.Repeat("0", 32) + "/f", "x", http.StatusForbidden},
		{loc + "big", strings.Repeat("x", 2<<10), http.StatusRequestEntityTooLarge},
	} {
		resp, err := http.Post(tc.url, "application/octet-stream", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("POST %s = %d, want %d", tc.url, resp.StatusCode, tc.want)
		}
	}
	if logs, _ := s.Logs("CP/1"); len(logs) != 2 {
		t.Errorf("refused uploads left files: %+v", logs)
	}
}

func TestLoadSecretPersists(t *testing.T) {
	path := t.TempDir() + "/sub/secret"
	a, err := LoadSecret(path)
	if err != nil || len(a) != secretSize {
		t.Fatalf("LoadSecret = %x, %v", a, err)
	}
	b, err := LoadSecret(path)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("second LoadSecret = %x, %v; want the first %x", b, err, a)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v, %v", info.Mode(), err)
	}
	// Upload URLs of one store are accepted by another with the secret.
	s1 := New(Options{Dir: t.TempDir(), Secret: a, PublicURL: "http://x"})
	s2 := New(Options{Dir: t.TempDir(), Secret: b, PublicURL: "http://x"})
	if s1.LogUploadURL("CP1") != s2.LogUploadURL("CP1") {
		t.Fatal("the same secret gives different upload URLs")
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSecret(path); err == nil {
		t.Fatal("a 5-byte secret was accepted")
	}
}
