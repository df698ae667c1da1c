package mqtt

import "strings"

// trie indexes topic filters by level so that routing an incoming topic
// costs O(levels) map look-ups instead of a scan over every filter. A
// gateway holds one exact filter ({cp}/out) per station it serves —
// thousands of them — plus a few wildcard filters.
//
// The wildcards '+' and '#' are stored as ordinary children keyed "+" and
// "#": topic names never contain them (MQTT-4.7.1-1), so they cannot
// collide with a real level. The trie is not safe for concurrent use; the
// registry guards it.
type trie struct {
	root node
}

type node struct {
	children map[string]*node
	entries  []*entry // filters that end at this node
}

// add indexes e under its filter (without any "$share/{group}/" prefix).
func (t *trie) add(e *entry) {
	n := &t.root
	rest := e.match
	for {
		level, more, found := strings.Cut(rest, "/")
		if n.children == nil {
			n.children = make(map[string]*node)
		}
		child := n.children[level]
		if child == nil {
			child = &node{}
			n.children[level] = child
		}
		n = child
		if !found {
			break
		}
		rest = more
	}
	n.entries = append(n.entries, e)
}

// remove drops e and prunes the nodes left empty.
func (t *trie) remove(e *entry) {
	t.root.remove(e, e.match)
}

// remove drops e from the subtree under n at the filter rest and reports
// whether n is now empty.
func (n *node) remove(e *entry, rest string) bool {
	level, more, found := strings.Cut(rest, "/")
	child := n.children[level]
	if child == nil {
		return false
	}
	var empty bool
	if found {
		empty = child.remove(e, more)
	} else {
		for i, x := range child.entries {
			if x == e {
				child.entries = append(child.entries[:i], child.entries[i+1:]...)
				break
			}
		}
		empty = len(child.entries) == 0 && len(child.children) == 0
	}
	if empty {
		delete(n.children, level)
	}
	return len(n.entries) == 0 && len(n.children) == 0
}

// match calls fn for every entry whose filter matches topic. Filters
// starting with a wildcard do not match topics starting with '$'
// (MQTT-4.7.2-1).
func (t *trie) match(topic string, fn func(*entry)) {
	t.root.match(topic, strings.HasPrefix(topic, "$"), fn)
}

func (n *node) match(rest string, dollar bool, fn func(*entry)) {
	if len(n.children) == 0 {
		return
	}
	// "#" matches this level and everything below, including the parent
	// level itself ("a/#" matches "a"), which is handled by the caller
	// reaching here with the remaining levels.
	if !dollar {
		if h := n.children["#"]; h != nil {
			for _, e := range h.entries {
				fn(e)
			}
		}
	}
	level, more, found := strings.Cut(rest, "/")
	visit := func(child *node) {
		if !found {
			for _, e := range child.entries {
				fn(e)
			}
			// "a/#" also matches "a".
			if h := child.children["#"]; h != nil {
				for _, e := range h.entries {
					fn(e)
				}
			}
			return
		}
		child.match(more, false, fn)
	}
	if child := n.children[level]; child != nil && level != "+" && level != "#" {
		visit(child)
	}
	if !dollar {
		if child := n.children["+"]; child != nil {
			visit(child)
		}
	}
}
