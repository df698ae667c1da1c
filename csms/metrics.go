package csms

import "sync/atomic"

// metrics are the service's counters; Stats reads them.
type metrics struct {
	commandsIssued   atomic.Int64
	commandsSent     atomic.Int64
	commandsAnswered atomic.Int64
	commandsFailed   atomic.Int64
	commandsTimedOut atomic.Int64
	lenientWarnings  atomic.Int64
}

// Stats are counters since the service started, for metrics exporters.
type Stats struct {
	CommandsIssued   int64 // commands stored by Send
	CommandsSent     int64 // CALLs published
	CommandsAnswered int64 // CALLRESULTs recorded
	CommandsFailed   int64 // CALLERRORs, invalid answers, unsendable commands
	CommandsTimedOut int64 // timed out by this process's sweeper
	LenientWarnings  int64 // schema deviations tolerated for lenient stations
}

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	m := &s.metrics
	return Stats{
		CommandsIssued: m.commandsIssued.Load(), CommandsSent: m.commandsSent.Load(),
		CommandsAnswered: m.commandsAnswered.Load(), CommandsFailed: m.commandsFailed.Load(),
		CommandsTimedOut: m.commandsTimedOut.Load(), LenientWarnings: m.lenientWarnings.Load(),
	}
}
