package bus

import "testing"

func TestMatch(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		{"+/in", "CP1/in", true},
		{"+/in", "CP1/out", false},
		{"+/in", "a/CP1/in", false},
		{"#", "CP1/in", true},
		{"CP1/#", "CP1", true},
		{"CP1/#", "CP1/in", true},
		{"CP1/+", "CP1", false},
		{"CP1/in", "CP1/in", true},
		{"$share/csms/+/in", "CP1/in", true},
		{"+/in", "$shadow/in", false},
		{"#", "$SYS/x", false},
		{"$shadow/+/update", "$shadow/CP1/update", true},
		{"ocppd/lifecycle/+", "ocppd/lifecycle/CP1", true},
		{"fleet/+/in", "fleet/CP1/in", true},
	}
	for _, c := range cases {
		if got := Match(c.filter, c.topic); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

func TestTopics(t *testing.T) {
	tp := Topics{Prefix: "fleet/"}
	for _, id := range []string{"CP1", "a+b", "x%y"} {
		for _, topic := range []string{tp.In(id), tp.Out(id), tp.Lifecycle(id)} {
			got, ok := tp.StationOf(topic)
			if !ok || got != id {
				t.Errorf("StationOf(%q) = %q, %v; want %q", topic, got, ok, id)
			}
		}
	}
	if got := tp.In("a+b"); got != "fleet/a%2Bb/in" {
		t.Errorf("In(a+b) = %q", got)
	}
	if !Match(tp.AllIn(), tp.In("a+b")) {
		t.Error("AllIn does not match an escaped id")
	}
	if _, ok := tp.StationOf("other/CP1/in"); ok {
		t.Error("StationOf accepted a topic outside the prefix")
	}
	if g, f := SplitShared("$share/csms/+/in"); g != "csms" || f != "+/in" {
		t.Errorf("SplitShared = %q %q", g, f)
	}
}
