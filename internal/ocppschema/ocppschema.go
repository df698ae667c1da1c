// Package ocppschema finds the official OCPP JSON schemas that the message
// generator (internal/ocppgen) and the schema cross-check tests read. The
// schemas are not committed: they come from the npm package pinned in
// tools/schemas/package.json, installed with `npm ci` when missing.
package ocppschema

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Files names the schema bundle of each OCPP version inside the package.
var Files = map[string]string{
	"1.6":   "ocpp1_6.json",
	"2.0.1": "ocpp2_0_1.json",
	"2.1":   "ocpp2_1.json",
}

// rel is where the bundles are below the module root.
const rel = "tools/schemas/node_modules/ocpp-rpc/lib/schemas"

// Root returns the module root: the nearest directory above the working
// directory holding go.mod.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Dir returns the directory of the schema bundles. When they are not
// installed and install is true it runs `npm ci` in tools/schemas first.
func Dir(install bool) (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, rel)
	if _, err := os.Stat(filepath.Join(dir, Files["2.0.1"])); err == nil {
		return dir, nil
	}
	if !install {
		return "", fmt.Errorf("schemas not installed in %s", dir)
	}
	// Test binaries of several packages may get here at once: one installs,
	// the others wait for it.
	unlock, err := lock(filepath.Join(root, "tools/schemas/.install.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, Files["2.0.1"])); err == nil {
		return dir, nil
	}
	cmd := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", filepath.Join(root, "tools/schemas"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("install schemas with npm ci: %w: %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, Files["2.0.1"])); err != nil {
		return "", fmt.Errorf("schemas still missing after npm ci: %w", err)
	}
	return dir, nil
}

// Load returns the schemas of version ("1.6", "2.0.1" or "2.1"), each a
// JSON object with a "$id".
func Load(version string, install bool) ([]json.RawMessage, error) {
	name, ok := Files[version]
	if !ok {
		return nil, fmt.Errorf("load schemas: unknown OCPP version %q", version)
	}
	dir, err := Dir(install)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("load schemas: %w", err)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("load schemas %s: %w", name, err)
	}
	return list, nil
}

// lock takes an exclusive lock file, waiting up to five minutes for
// another holder; a lock older than that is taken as abandoned.
func lock(path string) (func(), error) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("lock schema install: %w", err)
		}
		if fi, err := os.Stat(path); err == nil && time.Since(fi.ModTime()) > 5*time.Minute {
			os.Remove(path)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock schema install: %s is held too long", path)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
