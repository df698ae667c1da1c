package bus

import "testing"

func TestShadowTopics(t *testing.T) {
	for _, tc := range []struct {
		prefix, cp string
	}{{"", "CP1"}, {"fleet1/", "CP1"}, {"", "a+b"}} {
		tp := Topics{Prefix: tc.prefix}
		seg := TopicSegment(tc.cp)
		want := map[string]string{
			tp.ShadowUpdate(tc.cp):         tc.prefix + "$shadow/" + seg + "/update",
			tp.ShadowUpdateAccepted(tc.cp): tc.prefix + "$shadow/" + seg + "/update/accepted",
			tp.ShadowUpdateRejected(tc.cp): tc.prefix + "$shadow/" + seg + "/update/rejected",
			tp.ShadowUpdateDelta(tc.cp):    tc.prefix + "$shadow/" + seg + "/update/delta",
			tp.ShadowGet(tc.cp):            tc.prefix + "$shadow/" + seg + "/get",
			tp.ShadowGetAccepted(tc.cp):    tc.prefix + "$shadow/" + seg + "/get/accepted",
			tp.ShadowGetRejected(tc.cp):    tc.prefix + "$shadow/" + seg + "/get/rejected",
		}
		for got, w := range want {
			if got != w {
				t.Errorf("topic %q, want %q", got, w)
			}
		}
		if !Match(tp.AllShadowUpdate(), tp.ShadowUpdate(tc.cp)) || Match(tp.AllShadowUpdate(), tp.ShadowUpdateAccepted(tc.cp)) {
			t.Errorf("AllShadowUpdate %q matches wrongly", tp.AllShadowUpdate())
		}
		if !Match(tp.AllShadowGet(), tp.ShadowGet(tc.cp)) || Match(tp.AllShadowGet(), tp.ShadowGetAccepted(tc.cp)) {
			t.Errorf("AllShadowGet %q matches wrongly", tp.AllShadowGet())
		}
		for topic, op := range map[string]string{tp.ShadowUpdate(tc.cp): "update", tp.ShadowGet(tc.cp): "get"} {
			cp, gotOp, ok := tp.ShadowRequestOf(topic)
			if !ok || cp != tc.cp || gotOp != op {
				t.Errorf("ShadowRequestOf(%q) = %q, %q, %v", topic, cp, gotOp, ok)
			}
		}
		for _, topic := range []string{tp.ShadowUpdateAccepted(tc.cp), tp.In(tc.cp), tc.prefix + "$shadow//update", tc.prefix + "$shadow/x/delete"} {
			if _, _, ok := tp.ShadowRequestOf(topic); ok {
				t.Errorf("ShadowRequestOf(%q) ok", topic)
			}
		}
	}
	// '#' does not reach $ topics (MQTT §4.7.2).
	if Match("#", Topics{}.ShadowUpdate("CP1")) {
		t.Error("# matches a $shadow topic")
	}
}
