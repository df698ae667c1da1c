package gateway

import (
	"maps"
	"sync"
	"sync/atomic"
)

// Stats is a snapshot of the gateway's counters, all since New.
type Stats struct {
	// Accepted counts sessions that started (admitted, subprotocol agreed).
	Accepted uint64
	// Refused counts connection attempts refused, by reason (the
	// Refused* constants).
	Refused map[string]uint64
	// Replaced counts sessions closed because their station connected
	// again, here or on another gateway.
	Replaced uint64
	// FramesIn counts text frames received from stations; FramesInvalid
	// those of them that were malformed (answered, not published).
	FramesIn, FramesInvalid uint64
	// FramesOut counts text frames written to stations.
	FramesOut uint64
	// CallErrorsSent counts CALLERRORs (and 2.1 CALLRESULTERRORs) the
	// gateway sent itself, by error code.
	CallErrorsSent map[string]uint64
	// PublishErrors counts frames and lifecycle events the bus refused.
	PublishErrors uint64
	// OutInvalid counts malformed frames received on /out topics
	// (dropped); OutDropped valid ones that arrived for a closing session.
	OutInvalid, OutDropped uint64
	// CallsDropped counts CSMS→station CALLs dropped because the call
	// queue was full.
	CallsDropped uint64
	// CallTimeouts counts CSMS→station CALLs given up after CallTimeout.
	CallTimeouts uint64
	// SlowPeers counts stations disconnected because their write queue
	// was full.
	SlowPeers uint64
	// Abusive counts sessions closed because they sent more malformed
	// frames than Limits.MaxInvalidFrames allows.
	Abusive uint64
}

// counters holds the live counters behind Stats.
type counters struct {
	accepted, replaced                    atomic.Uint64
	framesIn, framesInvalid, framesOut    atomic.Uint64
	publishErrors, outInvalid, outDropped atomic.Uint64
	callsDropped, callTimeouts, slowPeers atomic.Uint64
	abusive                               atomic.Uint64

	mu         sync.Mutex
	refused    map[string]uint64
	callErrors map[string]uint64
}

func (c *counters) init() {
	c.refused = map[string]uint64{}
	c.callErrors = map[string]uint64{}
}

func (c *counters) refuse(reason string) {
	c.mu.Lock()
	c.refused[reason]++
	c.mu.Unlock()
}

func (c *counters) callError(code string) {
	c.mu.Lock()
	c.callErrors[code]++
	c.mu.Unlock()
}

// Stats returns a snapshot of the gateway's counters.
func (g *Gateway) Stats() Stats {
	c := &g.stats
	st := Stats{
		Accepted:      c.accepted.Load(),
		Replaced:      c.replaced.Load(),
		FramesIn:      c.framesIn.Load(),
		FramesInvalid: c.framesInvalid.Load(),
		FramesOut:     c.framesOut.Load(),
		PublishErrors: c.publishErrors.Load(),
		OutInvalid:    c.outInvalid.Load(),
		OutDropped:    c.outDropped.Load(),
		CallsDropped:  c.callsDropped.Load(),
		CallTimeouts:  c.callTimeouts.Load(),
		SlowPeers:     c.slowPeers.Load(),
		Abusive:       c.abusive.Load(),
	}
	c.mu.Lock()
	st.Refused = maps.Clone(c.refused)
	st.CallErrorsSent = maps.Clone(c.callErrors)
	c.mu.Unlock()
	return st
}
