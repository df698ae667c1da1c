package bus

import "strings"

// Match reports whether topic matches the MQTT topic filter (wildcards '+'
// for one level and '#' for the rest). A shared-subscription prefix
// "$share/{group}/" on filter is ignored. Topics starting with '$' are not
// matched by filters starting with a wildcard (MQTT 3.1.1 §4.7.2).
func Match(filter, topic string) bool {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		if _, f, found := strings.Cut(rest, "/"); found {
			filter = f
		}
	}
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		if !fmore || !tmore {
			// "a/#" also matches "a" (the parent level).
			return fmore == tmore || (fmore && frest == "#")
		}
		filter, topic = frest, trest
	}
}

// SplitShared splits "$share/{group}/{filter}" into group and filter; for
// other filters group is "".
func SplitShared(filter string) (group, f string) {
	rest, ok := strings.CutPrefix(filter, "$share/")
	if !ok {
		return "", filter
	}
	g, f, found := strings.Cut(rest, "/")
	if !found {
		return "", filter
	}
	return g, f
}
