package store

import (
	"context"
	"encoding/json"
	"time"
)

// CommandState is where a CSMS→station command is in its life.
//
//	queued ──▶ sent ──▶ answered   (CALLRESULT)
//	   │         ├────▶ failed     (CALLERROR, or not sendable)
//	   │         └────▶ timed_out  (no answer before the deadline)
//	   └──────────────▶ timed_out / failed (never sent)
type CommandState string

// Command states. Answered, failed and timed out are final.
const (
	CommandQueued   CommandState = "queued"    // stored, not yet published (station offline)
	CommandSent     CommandState = "sent"      // published on {cp}/out, awaiting the answer
	CommandAnswered CommandState = "answered"  // the station answered with a CALLRESULT
	CommandFailed   CommandState = "failed"    // CALLERROR, or the CSMS could not send it
	CommandTimedOut CommandState = "timed_out" // no answer before Deadline
)

// Final reports whether s is a final state.
func (s CommandState) Final() bool {
	return s == CommandAnswered || s == CommandFailed || s == CommandTimedOut
}

// Command is one CSMS→station CALL: what was asked, and what came back.
// ID is also the OCPP message id of the CALL, so an answer is matched by
// (ChargePointID, ID).
type Command struct {
	ID            string          `json:"id"`
	ChargePointID string          `json:"chargePointId"`
	Protocol      string          `json:"protocol"` // version the request was built for, e.g. "ocpp2.0.1"
	Action        string          `json:"action"`
	Request       json.RawMessage `json:"request"`
	State         CommandState    `json:"state"`
	// Response is the CALLRESULT payload once answered.
	Response json.RawMessage `json:"response,omitempty"`
	// ErrorCode, ErrorDescription and ErrorDetails hold the CALLERROR, or
	// for a command failed by the CSMS itself (ErrorCode "") the reason.
	ErrorCode        string          `json:"errorCode,omitempty"`
	ErrorDescription string          `json:"errorDescription,omitempty"`
	ErrorDetails     json.RawMessage `json:"errorDetails,omitempty"`
	CreatedAt        time.Time       `json:"createdAt"`
	SentAt           time.Time       `json:"sentAt,omitzero"`
	FinishedAt       time.Time       `json:"finishedAt,omitzero"` // answered, failed or timed out
	// Deadline is when a queued or sent command times out.
	Deadline time.Time `json:"deadline,omitzero"`
	// Timeout is how long the station has to answer once the command is
	// sent; MarkCommandSent sets Deadline to SentAt+Timeout.
	Timeout time.Duration `json:"timeout"`
}

// CommandFilter selects commands for ListCommands. Zero values mean no
// filter. Results are newest first (CreatedAt, then ID).
type CommandFilter struct {
	ChargePointID string
	Action        string
	State         CommandState
	Limit         int // 0: no limit
}

// CommandOutcome is how a command ended, for FinishCommand.
type CommandOutcome struct {
	State            CommandState // CommandAnswered or CommandFailed
	Response         json.RawMessage
	ErrorCode        string
	ErrorDescription string
	ErrorDetails     json.RawMessage
	At               time.Time
}

// Commands persists CSMS→station commands so that any CSMS worker can
// match the answer to a command another worker sent.
type Commands interface {
	// AddCommand stores c (State queued unless set). ENOTFOUND for an
	// unknown station, ECONFLICT if c.ID exists.
	AddCommand(ctx context.Context, c Command) error
	// GetCommand returns the command; ENOTFOUND if there is none.
	GetCommand(ctx context.Context, id string) (Command, error)
	// ListCommands returns the commands matching f, newest first.
	ListCommands(ctx context.Context, f CommandFilter) ([]Command, error)
	// QueuedCommands returns the station's queued commands, oldest first.
	QueuedCommands(ctx context.Context, cpID string) ([]Command, error)
	// MarkCommandSent moves a queued command to sent at time at, with
	// Deadline at+Timeout. ECONFLICT if it is not queued (another worker
	// sent it, or it ended), ENOTFOUND if it does not exist.
	MarkCommandSent(ctx context.Context, id string, at time.Time) error
	// FinishCommand records the answer to the station's command id and
	// returns the updated command. It applies to a queued or sent command
	// (a late answer to a timed-out command is also recorded: the station
	// did act on it). ENOTFOUND if the station has no command id;
	// ECONFLICT if it was already answered or failed.
	FinishCommand(ctx context.Context, cpID, id string, o CommandOutcome) (Command, error)
	// ExpireCommands marks every queued or sent command whose Deadline is
	// before now as timed out and returns them. Concurrent callers each
	// get a disjoint set.
	ExpireCommands(ctx context.Context, now time.Time) ([]Command, error)
}
