package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocppd/ocppd/internal/ocppschema"
)

// TestGeneratedUpToDate regenerates every message package in memory and
// compares it with the committed file: go generate must reproduce the
// committed Go byte for byte.
func TestGeneratedUpToDate(t *testing.T) {
	for _, tc := range []struct{ version, pkg string }{{"1.6", "v16"}, {"2.0.1", "v201"}, {"2.1", "v21"}} {
		list, err := ocppschema.Load(tc.version, true)
		if err != nil {
			t.Skipf("official OCPP schemas unavailable (install them with `npm ci --prefix tools/schemas`; npm could not fetch them: %v)", err)
		}
		naming := autoName
		if tc.version == "1.6" {
			naming = name16
		}
		m, err := build(tc.version, list, naming)
		if err != nil {
			t.Fatal(err)
		}
		files, err := emit(m, tc.pkg, "messages_gen.go")
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join("..", "..", "ocpp", tc.pkg)
		for _, f := range files {
			want, err := os.ReadFile(filepath.Join(dir, f.name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f.src, want) {
				t.Errorf("ocpp/%s/%s is stale: run go generate ./ocpp/...", tc.pkg, f.name)
			}
			if len(f.src) > 2*maxPartBytes {
				t.Errorf("ocpp/%s/%s is %d bytes; parts should stay near %d", tc.pkg, f.name, len(f.src), maxPartBytes)
			}
		}
		parts, _ := filepath.Glob(filepath.Join(dir, partGlob("messages_gen.go")))
		if len(parts) != len(files)-1 {
			t.Errorf("ocpp/%s has %d generated parts, the generator makes %d: run go generate ./ocpp/...", tc.pkg, len(parts)+1, len(files))
		}
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{"evseId": "EvseID", "idTag": "IDTag", "id": "ID", "idToken": "IDToken", "identity": "Identity", "chargingProfileId": "ChargingProfileID", "iso15118SchemaVersion": "Iso15118SchemaVersion"} {
		if got := goName(in); got != want {
			t.Errorf("goName(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"Energy.Active.Import.Register": "EnergyActiveImportRegister", "L1-N": "L1N", "eMAID": "EMAID", "kWh": "KWh"} {
		if got := constName(in); got != want {
			t.Errorf("constName(%q) = %q, want %q", in, got, want)
		}
	}
}
