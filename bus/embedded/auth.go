package embedded

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"strings"

	"github.com/wind-c/comqtt/v2/mqtt"
	"github.com/wind-c/comqtt/v2/mqtt/packets"

	"github.com/ocppd/ocppd/bus"
)

// User is a client of the MQTT listener, with what it may read and write.
type User struct {
	Username string
	Password string // compared in constant time; never logged
	// Read are the topic filters the user may subscribe to (and receive
	// messages of); nil means every topic ("#").
	Read []string
	// Write are the topic filters the user may publish on; nil means
	// none: outside tools watch, they do not speak for stations or the
	// CSMS.
	Write []string
}

// authHook is the one place that decides which TCP clients may connect and
// which topics they may publish and subscribe to. In-process publishers
// and subscribers (the gateway, the CSMS) bypass it.
//
// On a listener bound to a loopback address, clients without credentials
// are let in with full access (the machine is trusted); elsewhere every
// client must log in as one of Options.Users, whose Read and Write filters
// then bound what it may subscribe to, receive and publish. A subscription
// is allowed only if one of the user's filters covers all of it ("+/in"
// does not allow "#"), including inside $share/group/….
type authHook struct {
	mqtt.HookBase
	anonymous bool             // clients without credentials get full access
	users     map[string]*User // by user name
}

func newAuthHook(opts Options) *authHook {
	h := &authHook{anonymous: isLoopback(opts.ListenAddr), users: map[string]*User{}}
	for i := range opts.Users {
		u := opts.Users[i]
		h.users[u.Username] = &u
	}
	return h
}

// isLoopback reports whether a listen address binds only loopback
// interfaces ("127.0.0.1:1883", "[::1]:1883", "localhost:1883"); ":1883"
// and "0.0.0.0:1883" bind every interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RequiresCredentials reports whether clients of a listener on addr must
// log in (it is not bound to loopback).
func RequiresCredentials(addr string) bool { return addr != "" && !isLoopback(addr) }

// ID names the hook in comqtt's logs.
func (h *authHook) ID() string { return "ocppd-auth" }

// Provides reports the hook methods implemented.
func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

// OnConnectAuthenticate admits a known user with the right password, and
// on a loopback listener a client without credentials.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if cl.Net.Inline {
		return true
	}
	name := string(pk.Connect.Username)
	if name == "" && len(pk.Connect.Password) == 0 {
		return h.anonymous
	}
	u := h.users[name]
	if u == nil {
		// Compare anyway, so that timing does not tell user names apart.
		equalSecret(pk.Connect.Password, "\x00unknown user")
		return false
	}
	return equalSecret(pk.Connect.Password, u.Password)
}

// equalSecret compares in constant time (over fixed-size digests, so the
// length does not leak either).
func equalSecret(got []byte, want string) bool {
	a, b := sha256.Sum256(got), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// OnACLCheck allows a subscription filter, a delivered topic (write false)
// or a published topic (write true) for the client's user.
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	u := h.users[string(cl.Properties.Username)]
	if u == nil {
		return h.anonymous && len(cl.Properties.Username) == 0
	}
	if write {
		for _, f := range u.Write {
			if bus.Match(f, topic) {
				return true
			}
		}
		return false
	}
	if u.Read == nil {
		return true
	}
	_, filter := bus.SplitShared(topic)
	for _, f := range u.Read {
		if covers(f, filter) {
			return true
		}
	}
	return false
}

// covers reports whether every topic that filter sub matches is matched
// by filter allowed (a plain topic is a filter matching itself). As in
// Match, a filter starting with a wildcard covers no "$…" topic.
func covers(allowed, sub string) bool {
	if strings.HasPrefix(sub, "$") && (strings.HasPrefix(allowed, "+") || strings.HasPrefix(allowed, "#")) {
		return false
	}
	a, s := strings.Split(allowed, "/"), strings.Split(sub, "/")
	for i, al := range a {
		if al == "#" {
			return true
		}
		if i >= len(s) || s[i] == "#" {
			return false // sub ends, or goes on deeper than allowed follows
		}
		if al != "+" && al != s[i] {
			return false // a literal level, or "+" where allowed is literal
		}
	}
	return len(a) == len(s)
}
