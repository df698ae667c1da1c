package embedded

import "testing"

func TestCovers(t *testing.T) {
	for _, tc := range []struct {
		allowed, sub string
		want         bool
	}{
		{"#", "a/b", true},
		{"#", "#", true},
		{"+/in", "CP1/in", true},
		{"+/in", "+/in", true},
		{"+/in", "#", false},
		{"+/in", "+/#", false},
		{"+/in", "CP1/out", false},
		{"+/in", "CP1/in/x", false},
		{"CP1/#", "CP1/in", true},
		{"CP1/#", "CP1", true},
		{"CP1/#", "CP2/in", false},
		{"CP1/in", "+/in", false},
		{"+/in", "$shadow/in", false},
		{"#", "$SYS/broker", false},
		{"$shadow/#", "$shadow/CP1/update", true},
	} {
		if got := covers(tc.allowed, tc.sub); got != tc.want {
			t.Errorf("covers(%q, %q) = %v, want %v", tc.allowed, tc.sub, got, tc.want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:1883": true, "[::1]:1883": true, "localhost:1883": true,
		":1883": false, "0.0.0.0:1883": false, "192.0.2.1:1883": false, "": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v", addr, got)
		}
		if RequiresCredentials(addr) == want && addr != "" {
			t.Errorf("RequiresCredentials(%q) = %v", addr, !want)
		}
	}
}
