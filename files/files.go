// Package files keeps the files ocppd exchanges with stations over HTTP:
// firmware images the operator uploads and stations download (UpdateFirmware
// location), and the diagnostics and log files stations upload (1.6
// GetDiagnostics location, 2.x GetLog remoteLocation).
//
// Firmware is content-addressed: an image is stored once under its SHA-256
// and served at /firmware/{sha256}/{name}, so a URL handed to a station
// never changes meaning. Log uploads are accepted at
// /logs/{cp}/{token}/{name} by PUT or POST (raw body or multipart form),
// where token is an HMAC of the station id: only URLs the CSMS handed out
// are accepted. Uploaded files are kept under the data directory.
//
// Handler serves both paths; it is meant for the port stations reach
// (--public-url). Uploading firmware is the operator's: PutFirmware, called
// by the API.
package files

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ocppd/ocppd"
)

// Options configure a Store. Zero values take the defaults noted.
type Options struct {
	// Dir holds the files (firmware/ and logs/ below it). Required.
	Dir string
	// PublicURL is the base URL stations reach this handler at, e.g.
	// http://ocppd.example.net:8080; URLs handed to stations start with
	// it.
	PublicURL string
	// Secret keys the log upload tokens. Default: random per process
	// (upload URLs then stop working after a restart; set it for
	// production).
	Secret []byte
	// MaxUpload bounds one uploaded file. Default 256 MiB.
	MaxUpload int64
	Logger    *slog.Logger
	Now       func() time.Time
}

// Store stores and serves the files.
type Store struct {
	opts Options
	log  *slog.Logger
	base atomic.Pointer[string] // the public URL, without a trailing slash
}

// New returns a Store; it creates nothing until a file is written.
func New(opts Options) *Store {
	if len(opts.Secret) == 0 {
		opts.Secret = make([]byte, 32)
		_, _ = rand.Read(opts.Secret)
	}
	if opts.MaxUpload <= 0 {
		opts.MaxUpload = 256 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{opts: opts, log: opts.Logger}
	s.SetPublicURL(opts.PublicURL)
	return s
}

// SetPublicURL changes the base URL of the URLs handed to stations from
// now on (e.g. once the listener's port is known). URLs handed out before
// keep working if the handler is still reachable there.
func (s *Store) SetPublicURL(u string) {
	u = strings.TrimRight(u, "/")
	s.base.Store(&u)
}

// PublicURL returns the base URL stations reach the handler at.
func (s *Store) PublicURL() string { return *s.base.Load() }

// Firmware is a stored firmware image.
type Firmware struct {
	SHA256 string `json:"sha256"`
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	URL    string `json:"url"` // where stations download it
}

// cleanName keeps a file name safe to use in a path and a URL.
func cleanName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), ".")
	if s == "" {
		s = "file"
	}
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}

// PutFirmware stores an image read from r under name and returns where
// stations download it. Storing the same content twice stores it once.
func (s *Store) PutFirmware(r io.Reader, name string) (Firmware, error) {
	dir := filepath.Join(s.opts.Dir, "firmware")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return Firmware{}, fmt.Errorf("store firmware: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return Firmware{}, fmt.Errorf("store firmware: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, s.opts.MaxUpload+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Firmware{}, fmt.Errorf("store firmware: %w", err)
	}
	if n > s.opts.MaxUpload {
		return Firmware{}, ocppd.Errorf(ocppd.EINVALID, "firmware larger than %d bytes", s.opts.MaxUpload)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(tmp.Name(), filepath.Join(dir, sum)); err != nil {
		return Firmware{}, fmt.Errorf("store firmware: %w", err)
	}
	name = cleanName(name)
	return Firmware{SHA256: sum, Name: name, Size: n, URL: s.FirmwareURL(sum, name)}, nil
}

// FirmwareURL is the download URL of a stored image.
func (s *Store) FirmwareURL(sha, name string) string {
	return s.PublicURL() + "/firmware/" + sha + "/" + url.PathEscape(cleanName(name))
}

// token is the log upload token of station cp.
func (s *Store) token(cp string) string {
	m := hmac.New(sha256.New, s.opts.Secret)
	m.Write([]byte(cp))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// LogUploadURL is the location to hand a station in GetLog /
// GetDiagnostics: the station appends nothing (2.x) or a file name (some
// 1.6 stations treat it as a directory); both are accepted.
func (s *Store) LogUploadURL(cp string) string {
	return s.PublicURL() + "/logs/" + url.PathEscape(cp) + "/" + s.token(cp) + "/"
}

// LogFile is an uploaded log or diagnostics file.
type LogFile struct {
	ChargePointID string    `json:"chargePointId"`
	Name          string    `json:"name"`
	Size          int64     `json:"size"`
	UploadedAt    time.Time `json:"uploadedAt"`
	Path          string    `json:"-"`
}

// Logs returns the files station cp uploaded, newest first.
func (s *Store) Logs(cp string) ([]LogFile, error) {
	dir := filepath.Join(s.opts.Dir, "logs", cleanName(cp))
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list logs: %w", err)
	}
	var out []LogFile
	for _, e := range ents {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		out = append(out, LogFile{ChargePointID: cp, Name: e.Name(), Size: info.Size(), UploadedAt: info.ModTime().UTC(),
			Path: filepath.Join(dir, e.Name())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name > out[j].Name })
	return out, nil
}

// Handler serves firmware downloads and log uploads.
func (s *Store) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /firmware/{sha}/{name}", s.serveFirmware)
	mux.HandleFunc("HEAD /firmware/{sha}/{name}", s.serveFirmware)
	for _, m := range []string{"PUT", "POST"} {
		mux.HandleFunc(m+" /logs/{cp}/{token}/{name...}", s.receiveLog)
	}
	return mux
}

func (s *Store) serveFirmware(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	if len(sha) != 64 || strings.Trim(sha, "0123456789abcdef") != "" {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(filepath.Join(s.opts.Dir, "firmware", sha))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		http.Error(w, "cannot read firmware", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+sha+`"`)
	http.ServeContent(w, r, cleanName(r.PathValue("name")), info.ModTime(), f)
}

func (s *Store) receiveLog(w http.ResponseWriter, r *http.Request) {
	cp := r.PathValue("cp")
	if !hmac.Equal([]byte(r.PathValue("token")), []byte(s.token(cp))) {
		http.Error(w, "unknown upload location", http.StatusForbidden)
		return
	}
	body := io.Reader(http.MaxBytesReader(w, r.Body, s.opts.MaxUpload))
	name := r.PathValue("name")
	if ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" && params["boundary"] != "" {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, "bad multipart body", http.StatusBadRequest)
			return
		}
		part, err := mr.NextPart()
		for err == nil && part.FileName() == "" {
			part, err = mr.NextPart()
		}
		if err != nil {
			http.Error(w, "no file in the multipart body", http.StatusBadRequest)
			return
		}
		body, name = part, part.FileName()
	}
	if name == "" {
		name = "upload"
	}
	dir := filepath.Join(s.opts.Dir, "logs", cleanName(cp))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		s.log.Error("log upload", "cp", cp, "err", err)
		http.Error(w, "cannot store the file", http.StatusInternalServerError)
		return
	}
	path := filepath.Join(dir, s.opts.Now().UTC().Format("20060102T150405.000Z")+"-"+cleanName(name))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		s.log.Error("log upload", "cp", cp, "err", err)
		http.Error(w, "cannot store the file", http.StatusInternalServerError)
		return
	}
	n, err := io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "file too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "upload failed", http.StatusBadRequest)
		return
	}
	s.log.Info("log file uploaded", "cp", cp, "file", filepath.Base(path), "bytes", n)
	w.WriteHeader(http.StatusCreated)
}
