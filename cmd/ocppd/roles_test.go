package main

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRoles(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "gateway,csms,api",
		"all":              "gateway,csms,api",
		"gateway":          "gateway",
		"csms, api":        "csms,api",
		"api,gateway":      "gateway,api",
		"gateway,all":      "gateway,csms,api",
		"csms,csms":        "csms",
		"gateway,csms,api": "gateway,csms,api",
	} {
		r, err := parseRoles(in)
		if err != nil || r.String() != want {
			t.Errorf("parseRoles(%q) = %q, %v; want %q", in, r, err, want)
		}
	}
	for _, bad := range []string{"gw", "gateway,", "gateway;csms"} {
		if _, err := parseRoles(bad); !errors.Is(err, errUsage) {
			t.Errorf("parseRoles(%q): %v, want a usage error", bad, err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@h:5432/db?x=1": "postgres://u:xxxxx@h:5432/db?x=1",
		"mqtts://u:p@w@h:8883":              "mqtts://u:xxxxx@h:8883",
		"postgres://u@h/db":                 "postgres://u@h/db",
		"mqtt://h:1883":                     "mqtt://h:1883",
		"mqtt://h/a@b":                      "mqtt://h/a@b",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestServeFlagConflicts(t *testing.T) {
	_, _, err := runCLI(t, "serve", "--broker", "mqtt://u:pw@127.0.0.1:1", "--mqtt-addr", ":1884")
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--mqtt-addr") || strings.Contains(err.Error(), "pw") {
		t.Errorf("--broker with --mqtt-addr: %v; want a usage error naming --mqtt-addr, without the password", err)
	}
	_, _, err = runCLI(t, "serve", "--roles", "gateway,web")
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), `"web"`) {
		t.Errorf("--roles gateway,web: %v", err)
	}
	_, _, err = runCLI(t, "serve", "--db", "mysql://h/db", "--ocpp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--mqtt-addr", "")
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "postgres://") {
		t.Errorf("--db mysql://: %v", err)
	}
}
