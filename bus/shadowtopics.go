package bus

import "strings"

// Device shadow topics, after AWS IoT's classic shadow topics (see package
// shadow for the message shapes), under the topic prefix:
//
//	{prefix}$shadow/{cp}/update            an update request (to ocppd)
//	{prefix}$shadow/{cp}/update/accepted   the update was applied
//	{prefix}$shadow/{cp}/update/rejected   it was not (code and message)
//	{prefix}$shadow/{cp}/update/delta      desired differs from reported
//	{prefix}$shadow/{cp}/get               a get request (to ocppd)
//	{prefix}$shadow/{cp}/get/accepted      the document
//	{prefix}$shadow/{cp}/get/rejected      why not
//
// MQTT filters that start with a wildcard do not match topics that start
// with '$' (so `#` does not show them without a prefix): subscribe to
// `$shadow/#` to watch them.

const shadowRoot = "$shadow/"

// ShadowUpdate returns the topic of update requests for station cp's
// shadow.
func (t Topics) ShadowUpdate(cp string) string { return t.shadow(cp, "/update") }

// ShadowUpdateAccepted returns the topic of accepted updates.
func (t Topics) ShadowUpdateAccepted(cp string) string { return t.shadow(cp, "/update/accepted") }

// ShadowUpdateRejected returns the topic of rejected updates.
func (t Topics) ShadowUpdateRejected(cp string) string { return t.shadow(cp, "/update/rejected") }

// ShadowUpdateDelta returns the topic of delta messages.
func (t Topics) ShadowUpdateDelta(cp string) string { return t.shadow(cp, "/update/delta") }

// ShadowGet returns the topic of get requests for station cp's shadow.
func (t Topics) ShadowGet(cp string) string { return t.shadow(cp, "/get") }

// ShadowGetAccepted returns the topic of get answers.
func (t Topics) ShadowGetAccepted(cp string) string { return t.shadow(cp, "/get/accepted") }

// ShadowGetRejected returns the topic of refused get requests.
func (t Topics) ShadowGetRejected(cp string) string { return t.shadow(cp, "/get/rejected") }

func (t Topics) shadow(cp, suffix string) string {
	return t.Prefix + shadowRoot + TopicSegment(cp) + suffix
}

// AllShadowUpdate is the filter matching every station's update requests.
func (t Topics) AllShadowUpdate() string { return t.Prefix + shadowRoot + "+/update" }

// AllShadowGet is the filter matching every station's get requests.
func (t Topics) AllShadowGet() string { return t.Prefix + shadowRoot + "+/get" }

// ShadowRequestOf parses a shadow request topic: the station and the
// request, "update" or "get"; ok is false for any other topic.
func (t Topics) ShadowRequestOf(topic string) (cp, op string, ok bool) {
	rest, found := strings.CutPrefix(topic, t.Prefix+shadowRoot)
	if !found {
		return "", "", false
	}
	seg, op, found := strings.Cut(rest, "/")
	if !found || seg == "" || (op != "update" && op != "get") {
		return "", "", false
	}
	return UnescapeSegment(seg), op, true
}
