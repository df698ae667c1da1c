package portal

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var built = fstest.MapFS{
	"index.html":           {Data: []byte(`<!doctype html><title>ocppd</title><script src="/assets/app-ABC.js"></script>`)},
	"assets/app-ABC.js":    {Data: []byte(`console.log("portal")`)},
	"assets/app-ABC.css":   {Data: []byte(`body{}`)},
	"assets/nested/x.json": {Data: []byte(`{}`)},
}

func TestServesBuild(t *testing.T) {
	h := New(Options{Assets: built})
	if !h.Built() {
		t.Fatal("Built() = false with an index.html")
	}
	for _, path := range []string{"/", "/index.html", "/fleet", "/station/CP1"} {
		r := get(t, h, http.MethodGet, path)
		if r.StatusCode != http.StatusOK || !strings.Contains(body(t, r), "<title>ocppd</title>") {
			t.Fatalf("GET %s: %d, want the index", path, r.StatusCode)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Fatalf("GET %s: Cache-Control %q, want no-cache for the index", path, cc)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("GET %s: Content-Type %q", path, ct)
		}
	}
	r := get(t, h, http.MethodGet, "/assets/app-ABC.js")
	if r.StatusCode != http.StatusOK || body(t, r) != `console.log("portal")` {
		t.Fatalf("asset: %d", r.StatusCode)
	}
	if ct := r.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Fatalf("asset Content-Type %q", ct)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Fatalf("asset Cache-Control %q, want immutable (hashed names)", cc)
	}
	// A missing asset is a 404, not the app (a stale bundle must not be
	// answered with HTML).
	if r := get(t, h, http.MethodGet, "/assets/app-OLD.js"); r.StatusCode != http.StatusNotFound {
		t.Fatalf("missing asset: %d, want 404", r.StatusCode)
	}
	// A directory is not listed.
	if r := get(t, h, http.MethodGet, "/assets/"); r.StatusCode != http.StatusOK || !strings.Contains(body(t, r), "<title>ocppd</title>") {
		t.Fatalf("directory: %d, want the index", r.StatusCode)
	}
	// Path tricks stay inside the assets.
	if r := get(t, h, http.MethodGet, "/../../etc/passwd"); r.StatusCode != http.StatusOK && r.StatusCode != http.StatusNotFound {
		t.Fatalf("traversal: %d", r.StatusCode)
	} else if strings.Contains(body(t, r), "root:") {
		t.Fatal("traversal escaped the assets")
	}
}

func TestHeadAndMethods(t *testing.T) {
	h := New(Options{Assets: built})
	r := get(t, h, http.MethodHead, "/")
	if r.StatusCode != http.StatusOK || body(t, r) != "" {
		t.Fatalf("HEAD /: %d", r.StatusCode)
	}
	r = get(t, h, http.MethodPost, "/")
	if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST /: %d Allow %q", r.StatusCode, r.Header.Get("Allow"))
	}
}

func TestSecurityHeaders(t *testing.T) {
	for name, h := range map[string]*Handler{"built": New(Options{Assets: built}), "not built": New(Options{Assets: fstest.MapFS{}})} {
		r := get(t, h, http.MethodGet, "/")
		csp := r.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", name, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q allows inline code", name, csp)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", name, r.Header)
		}
	}
}

func TestNotBuilt(t *testing.T) {
	h := New(Options{Assets: fstest.MapFS{".gitkeep": {}}})
	if h.Built() {
		t.Fatal("Built() = true without index.html")
	}
	r := get(t, h, http.MethodGet, "/")
	if b := body(t, r); r.StatusCode != http.StatusOK || !strings.Contains(b, "make build") || !strings.Contains(b, "ocppd token create") {
		t.Fatalf("GET /: %d %q, want the page saying how to build", r.StatusCode, b)
	}
	if r := get(t, h, http.MethodGet, "/assets/app.js"); r.StatusCode != http.StatusNotFound {
		t.Fatalf("asset without a build: %d, want 404", r.StatusCode)
	}
}

// TestEmbedded checks the embedded file system: it compiles on a fresh
// clone (only dist/.gitkeep) and, after `make build`, holds the real index.
func TestEmbedded(t *testing.T) {
	h := New(Options{})
	r := get(t, h, http.MethodGet, "/")
	b := body(t, r)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d", r.StatusCode)
	}
	if h.Built() {
		if !strings.Contains(b, `<div id="app">`) || !strings.Contains(b, "/assets/app-") {
			t.Fatalf("built index lacks the app: %s", b)
		}
	} else if !strings.Contains(b, "make build") {
		t.Fatalf("unbuilt page: %s", b)
	}
}
