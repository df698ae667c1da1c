package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/ocppd/ocppd/auth"
	"github.com/ocppd/ocppd/files"
)

// filesPath is where the station file exchange (files.Store.Handler:
// firmware downloads, log uploads) is mounted on the OCPP port.
const filesPath = "/files"

// filesConfig is the configuration of the files stations download
// (firmware) and upload (logs, diagnostics).
type filesConfig struct {
	PublicURL string // --public-url
	Dir       string // --files-dir
}

// addFilesFlags defines the station file flags of `ocppd serve`.
func addFilesFlags(fs *flag.FlagSet, c *filesConfig) {
	fs.StringVar(&c.PublicURL, "public-url", "", "base URL at which stations reach the OCPP port over HTTP(S), for firmware downloads and log uploads (e.g. https://ocpp.example.net:8080); default derived from --ocpp-addr (with a warning when that is a wildcard address)")
	fs.StringVar(&c.Dir, "files-dir", "", "directory of uploaded firmware images and station logs (default DATA-DIR/files); processes that split the gateway and api roles must share it")
}

// filesRole is the station file exchange of a serve process: a files.Store
// served on the OCPP port under /files/ (gateway role), and used by the
// operator API to store firmware images and build download URLs (api
// role; api.Options.Firmware).
type filesRole struct {
	store *files.Store // nil without the gateway and api roles
}

// startFiles creates the files store (gateway and api roles). Its public
// URL is --public-url, or derived from --ocpp-addr until the OCPP listener
// is bound (ocppHandler).
func (s *server) startFiles() error {
	if !s.roles.gateway && !s.roles.api {
		return nil
	}
	c := s.cfg.Files
	dir := c.Dir
	if dir == "" {
		dir = filepath.Join(s.cfg.DataDir, "files")
	}
	secret, err := files.LoadSecret(filepath.Join(dir, ".upload-secret"))
	if err != nil {
		return fmt.Errorf("station files (--files-dir %s): %w", dir, err)
	}
	public := c.PublicURL
	if public != "" {
		u, err := url.Parse(public)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return usageErrorf("--public-url %q: want an http:// or https:// URL with a host, e.g. https://ocpp.example.net:8080", public)
		}
	} else {
		public = s.derivePublicURL(s.cfg.OCPPAddr, !s.roles.gateway)
	}
	s.files.store = files.New(files.Options{
		Dir: dir, PublicURL: strings.TrimRight(public, "/") + filesPath, Secret: secret,
		Logger: s.log.With("component", "files"),
	})
	return nil
}

// derivePublicURL makes the default --public-url from the OCPP listen
// address: http(s)://host:port, with the host name of this machine for a
// wildcard address (warned about: stations may not resolve it).
func (s *server) derivePublicURL(addr string, elsewhere bool) string {
	scheme := "http"
	if auth.Profile(s.cfg.Security.Profile).TLS() {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, "8080"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		name, herr := os.Hostname()
		if herr != nil || name == "" {
			name = "localhost"
		}
		host = name
		s.log.Warn("--public-url is not set and --ocpp-addr listens on every address: stations are given firmware and log upload URLs on this machine's host name; set --public-url to the URL stations reach the OCPP port at",
			"ocpp_addr", addr, "public_url", scheme+"://"+net.JoinHostPort(host, port)+filesPath)
	} else if elsewhere {
		s.log.Warn("--public-url is not set in a process without the gateway role: firmware and log upload URLs point at --ocpp-addr; set --public-url to the URL stations reach a gateway at",
			"ocpp_addr", addr)
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// ocppHandler is the OCPP port's handler: the gateway, and the station
// file exchange under /files/ for requests that are not WebSocket
// upgrades. Without --public-url the files' URLs take the bound port
// (--ocpp-addr :0 in tests).
func (s *server) ocppHandler() http.Handler {
	fs := s.files.store
	if fs == nil {
		return s.gw
	}
	if s.cfg.Files.PublicURL == "" && s.ocppLn != nil {
		if _, port, err := net.SplitHostPort(s.ocppLn.Addr().String()); err == nil {
			if u, err := url.Parse(fs.PublicURL()); err == nil {
				u.Host = net.JoinHostPort(u.Hostname(), port)
				fs.SetPublicURL(u.String())
			}
		}
	}
	fh := http.StripPrefix(filesPath, fs.Handler())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, filesPath+"/") && !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			fh.ServeHTTP(w, r)
			return
		}
		s.gw.ServeHTTP(w, r)
	})
}
