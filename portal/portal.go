// Package portal serves ocppd's operator web portal: a single-page
// application built from src/ by npm (esbuild) into dist/ and embedded in
// the binary. It holds no data and no secrets: every page asks the
// operator for an API token and talks to the REST API under /api/v1.
//
// The built assets are not committed. On a fresh clone before `make build`
// dist/ holds only a placeholder, so the package still compiles and the
// handler serves a page saying how to build the portal.
package portal

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// Options configure a Handler. The zero value serves the embedded build.
type Options struct {
	// Assets replaces the embedded build (tests, or a development
	// directory with os.DirFS). Its root holds index.html.
	Assets fs.FS
}

// Handler serves the portal: index.html at "/", the bundle's files by
// name, and index.html again for any other path that is not a file (the
// portal routes in the URL's fragment, but old links keep working).
type Handler struct {
	assets fs.FS
	built  bool
	files  http.Handler
}

// New returns a portal handler. It does no I/O beyond reading the
// embedded file system.
func New(opts Options) *Handler {
	assets := opts.Assets
	if assets == nil {
		sub, err := fs.Sub(dist, "dist")
		if err != nil { // cannot happen: "dist" is a valid path
			panic(err)
		}
		assets = sub
	}
	_, err := fs.Stat(assets, "index.html")
	return &Handler{assets: assets, built: err == nil, files: http.FileServerFS(assets)}
}

// Built reports whether the handler holds a built portal (false: it
// serves the "not built" page).
func (h *Handler) Built() bool { return h.built }

// ServeHTTP serves GET and HEAD.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	setSecurityHeaders(w.Header())
	if !h.built {
		notBuilt(w, r)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" || name == "index.html" || !h.isFile(name) {
		if path.Ext(name) != "" && name != "index.html" {
			// A missing asset (a stale bundle name) is a 404, not the app.
			http.NotFound(w, r)
			return
		}
		h.index(w, r)
		return
	}
	if strings.HasPrefix(name, "assets/") {
		// Bundle files carry a content hash in their names.
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	h.files.ServeHTTP(w, r)
}

func (h *Handler) isFile(name string) bool {
	fi, err := fs.Stat(h.assets, name)
	return err == nil && !fi.IsDir()
}

// index serves index.html, never cached, so a new build is picked up on
// the next load.
func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(h.assets, "index.html")
	if err != nil {
		http.Error(w, "portal index missing", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
}

// setSecurityHeaders allows only the portal's own scripts, styles and API
// calls, and keeps the portal out of frames.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ocppd portal not built</title></head>
<body>
<h1>ocppd</h1>
<p>The portal's assets are not built into this binary. Build them with
<code>make build</code> (it runs <code>npm ci</code> and <code>npm run build</code>
in <code>portal/</code>, then <code>go build</code>).</p>
<p>The operator API is served at <a href="/api/v1/openapi.json">/api/v1</a>
(bearer token required: <code>ocppd token create --name NAME</code>).</p>
</body></html>
`

func notBuilt(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" && r.URL.Path != "/index.html" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write([]byte(notBuiltPage))
}
