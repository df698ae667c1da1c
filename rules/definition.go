package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ocppd/ocppd"
)

// Rule is the definition of a rule of the Engine: a statement and the
// actions that receive its output. Its JSON form is what the config file's
// `rules:` section (in YAML) and the REST API take:
//
//	{
//	  "name": "heartbeats",
//	  "sql": "SELECT topic(1) AS chargePointId, timestamp() AS lastTimestamp FROM '+/in' WHERE get(*, 2) = 'Heartbeat'",
//	  "actions": [{"table": {"name": "chargePointHeartbeat", "key": "chargePointId"}}],
//	  "errorAction": {"log": {"level": "error"}},
//	  "enabled": true
//	}
//
// enabled defaults to true. Unknown fields are an error, so a typo does not
// silently drop an option.
type Rule struct {
	// Name identifies the rule: 1 to 128 letters, digits, '_', '-' or '.'.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// SQL is the statement; see the package comment.
	SQL string `json:"sql"`
	// Actions receive every row the statement selects, in parallel and
	// independently of each other; at least one.
	Actions []Action `json:"actions"`
	// ErrorAction, if set, receives an error report (see ErrorReport)
	// when an action fails for good.
	ErrorAction *Action `json:"errorAction,omitempty"`
	Enabled     bool    `json:"enabled"`

	// Source is "config" for rules of the config file (read-only through
	// the API) and "api" for rules in the store. Output only.
	Source string `json:"source,omitempty"`
	// CreatedAt and UpdatedAt are kept by the store. Output only.
	CreatedAt time.Time `json:"createdAt,omitzero"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// Sources of rules.
const (
	SourceConfig = "config"
	SourceAPI    = "api"
)

// Action is one action of a rule: exactly one of its fields is set.
type Action struct {
	Table     *TableAction     `json:"table,omitempty"`
	Republish *RepublishAction `json:"republish,omitempty"`
	Webhook   *WebhookAction   `json:"webhook,omitempty"`
	Log       *LogAction       `json:"log,omitempty"`
}

// TableAction upserts the row into the rule table Name under the value of
// the row's field Key (a string or a number): the row replaces the one
// stored under that key. A row without the key field fails the action.
type TableAction struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// RepublishAction publishes the row, as a JSON object, on the bus topic
// Topic (a Template, under the bus topic prefix) at QoS 1. The message
// carries the user property "ocppd-rule" with the rule's name, and a rule
// never evaluates a message it published itself, so a rule cannot loop
// onto its own input.
type RepublishAction struct {
	Topic  string `json:"topic"`
	Retain bool   `json:"retain,omitempty"`
}

// WebhookAction POSTs the row as JSON to URL. A 2xx answer is success;
// a transport error, 408, 429 or 5xx is retried up to Retries times
// (default 3) after Backoff (default 1 s), doubling each time up to 30 s;
// any other answer, or the last failed attempt, fails the action. Each
// attempt may take Timeout (default 10 s). Headers are added to the
// request (values are Templates).
type WebhookAction struct {
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Timeout Duration          `json:"timeout,omitzero"`
	Retries *int              `json:"retries,omitempty"`
	Backoff Duration          `json:"backoff,omitzero"`
}

// LogAction writes the row to the server log at Level: debug, info (the
// default), warn or error.
type LogAction struct {
	Level string `json:"level,omitempty"`
}

// Kind returns the action's kind: "table", "republish", "webhook", "log",
// or "" when none or several are set.
func (a Action) Kind() string {
	kind, n := "", 0
	if a.Table != nil {
		kind, n = "table", n+1
	}
	if a.Republish != nil {
		kind, n = "republish", n+1
	}
	if a.Webhook != nil {
		kind, n = "webhook", n+1
	}
	if a.Log != nil {
		kind, n = "log", n+1
	}
	if n != 1 {
		return ""
	}
	return kind
}

// Duration is a time.Duration that reads from JSON as a string such as
// "1.5s" or "2m", or a number of seconds.
type Duration time.Duration

// MarshalJSON encodes the duration as a string such as "1.5s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON accepts "1.5s" or 1.5 (seconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if n, err := strconv.ParseFloat(s, 64); err == nil {
			*d = Duration(n * float64(time.Second))
			return nil
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: expected seconds or a duration like 500ms or 2m", s)
		}
		*d = Duration(v)
		return nil
	}
	var n float64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration: expected seconds or a duration like \"500ms\"")
	}
	*d = Duration(n * float64(time.Second))
	return nil
}

// UnmarshalJSON decodes a rule strictly (unknown fields are an error) with
// enabled defaulting to true.
func (r *Rule) UnmarshalJSON(b []byte) error {
	type plain Rule
	p := plain{Enabled: true}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*r = Rule(p)
	return nil
}

// ParseRule decodes a rule from JSON and validates it. Errors are
// EINVALID, naming the problem.
func ParseRule(b []byte) (Rule, error) {
	var r Rule
	if err := json.Unmarshal(b, &r); err != nil {
		return Rule{}, ocppd.Errorf(ocppd.EINVALID, "rule: %v", err)
	}
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// ParseRules decodes a JSON array of rules (the config file's `rules:`
// section, converted from YAML) and validates each, and that names are
// unique. Errors are EINVALID.
func ParseRules(b []byte) ([]Rule, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, ocppd.Errorf(ocppd.EINVALID, "rules: expected a list of rules: %v", err)
	}
	seen := map[string]bool{}
	out := make([]Rule, 0, len(raw))
	for i, m := range raw {
		r, err := ParseRule(m)
		if err != nil {
			return nil, ocppd.Errorf(ocppd.EINVALID, "rules[%d]: %s", i, ocppd.ErrorMessage(err))
		}
		if seen[r.Name] {
			return nil, ocppd.Errorf(ocppd.EINVALID, "rules[%d]: name %q is used twice", i, r.Name)
		}
		seen[r.Name] = true
		out = append(out, r)
	}
	return out, nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

// Validate checks the rule: its name, statement, actions and their
// options. Errors are EINVALID, naming the problem (a statement that does
// not parse gives the ParseError's position).
func (r Rule) Validate() error {
	_, err := compileRule(r)
	return err
}

// compiled is a validated rule ready to run (without its workers).
type compiledDef struct {
	stmt    *Statement
	actions []compiledAction
	onError *compiledAction
}

type compiledAction struct {
	kind    string
	def     Action
	topic   *Template            // republish
	headers map[string]*Template // webhook
}

func compileRule(r Rule) (compiledDef, error) {
	var c compiledDef
	if !nameRE.MatchString(r.Name) {
		return c, ocppd.Errorf(ocppd.EINVALID, "rule name %q: use 1 to 128 letters, digits, '_', '-' or '.'", r.Name)
	}
	if strings.TrimSpace(r.SQL) == "" {
		return c, ocppd.Errorf(ocppd.EINVALID, "rule %s: sql is required", r.Name)
	}
	st, err := Parse(r.SQL)
	if err != nil {
		return c, ocppd.Errorf(ocppd.EINVALID, "rule %s: sql: %v", r.Name, err)
	}
	c.stmt = st
	if len(r.Actions) == 0 {
		return c, ocppd.Errorf(ocppd.EINVALID, "rule %s: at least one action is required", r.Name)
	}
	for i, a := range r.Actions {
		ca, err := compileAction(a)
		if err != nil {
			return c, ocppd.Errorf(ocppd.EINVALID, "rule %s: actions[%d]: %v", r.Name, i, err)
		}
		c.actions = append(c.actions, ca)
	}
	if r.ErrorAction != nil {
		ca, err := compileAction(*r.ErrorAction)
		if err != nil {
			return c, ocppd.Errorf(ocppd.EINVALID, "rule %s: errorAction: %v", r.Name, err)
		}
		c.onError = &ca
	}
	return c, nil
}

// tableNameRE limits table names to what a URL path segment and a portal
// show without escaping.
var tableNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

func compileAction(a Action) (compiledAction, error) {
	ca := compiledAction{kind: a.Kind(), def: a}
	switch ca.kind {
	case "":
		return ca, fmt.Errorf("set exactly one of table, republish, webhook, log")
	case "table":
		if !tableNameRE.MatchString(a.Table.Name) {
			return ca, fmt.Errorf("table: name %q: use 1 to 128 letters, digits, '_', '-' or '.'", a.Table.Name)
		}
		if a.Table.Key == "" {
			return ca, fmt.Errorf("table: key (the selected field holding the partition key) is required")
		}
	case "republish":
		if a.Republish.Topic == "" {
			return ca, fmt.Errorf("republish: topic is required")
		}
		t, err := ParseTemplate(a.Republish.Topic)
		if err != nil {
			return ca, fmt.Errorf("republish: topic: %v", err)
		}
		if t.IsLiteral() && strings.ContainsAny(a.Republish.Topic, "+#") {
			return ca, fmt.Errorf("republish: topic %q: a topic name cannot hold wildcards", a.Republish.Topic)
		}
		ca.topic = t
	case "webhook":
		u, err := url.Parse(a.Webhook.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return ca, fmt.Errorf("webhook: url %q: expected an http:// or https:// URL", a.Webhook.URL)
		}
		if a.Webhook.Retries != nil && (*a.Webhook.Retries < 0 || *a.Webhook.Retries > 20) {
			return ca, fmt.Errorf("webhook: retries %d: expected 0 to 20", *a.Webhook.Retries)
		}
		if a.Webhook.Timeout < 0 || a.Webhook.Backoff < 0 {
			return ca, fmt.Errorf("webhook: timeout and backoff must not be negative")
		}
		ca.headers = map[string]*Template{}
		for k, v := range a.Webhook.Headers {
			t, err := ParseTemplate(v)
			if err != nil {
				return ca, fmt.Errorf("webhook: header %s: %v", k, err)
			}
			ca.headers[k] = t
		}
	case "log":
		if _, ok := logLevels[strings.ToLower(a.Log.Level)]; !ok {
			return ca, fmt.Errorf("log: level %q: expected debug, info, warn or error", a.Log.Level)
		}
	}
	return ca, nil
}
