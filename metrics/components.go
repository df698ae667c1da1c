package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ocppd/ocppd/csms"
	"github.com/ocppd/ocppd/rules"
)

// CSMSSource is what NewCSMSCollector reads: *csms.Service.
type CSMSSource interface {
	Stats() csms.Stats
}

type csmsCollector struct {
	s        CSMSSource
	commands *prometheus.Desc
	lenient  *prometheus.Desc
}

// NewCSMSCollector returns a collector of the CSMS's counters:
// ocppd_csms_commands_total{state} (issued, sent, answered, failed,
// timed_out) and ocppd_csms_lenient_warnings_total.
func NewCSMSCollector(s CSMSSource) prometheus.Collector {
	return &csmsCollector{
		s: s,
		commands: prometheus.NewDesc("ocppd_csms_commands_total",
			"CSMS-to-station commands by this process, by what happened: issued (stored), sent (CALL published), answered, failed, timed_out.",
			[]string{"state"}, nil),
		lenient: prometheus.NewDesc("ocppd_csms_lenient_warnings_total",
			"Schema deviations tolerated for stations in lenient mode.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *csmsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.commands; ch <- c.lenient }

// Collect implements prometheus.Collector.
func (c *csmsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s.Stats()
	for state, v := range map[string]int64{
		"issued": s.CommandsIssued, "sent": s.CommandsSent, "answered": s.CommandsAnswered,
		"failed": s.CommandsFailed, "timed_out": s.CommandsTimedOut,
	} {
		ch <- prometheus.MustNewConstMetric(c.commands, prometheus.CounterValue, float64(v), state)
	}
	ch <- prometheus.MustNewConstMetric(c.lenient, prometheus.CounterValue, float64(s.LenientWarnings))
}

// RulesSource is what NewRulesCollector reads: *rules.Engine.
type RulesSource interface {
	Stats() []rules.RuleStats
}

type rulesCollector struct {
	s                    RulesSource
	matched, rows, queue *prometheus.Desc
	retries              *prometheus.Desc
}

// NewRulesCollector returns a collector of the rules engine's counters:
// ocppd_rule_matched_total{rule}, ocppd_rule_action_rows_total{rule,
// action,kind,result} (result ok, failed or dropped; action is the
// action's index, or "error" for the error action),
// ocppd_rule_action_retries_total and ocppd_rule_action_queue_depth.
//
// The engine's counters restart when a rule changes (they count "this
// version of the rule"); Prometheus treats the drop as a counter reset.
func NewRulesCollector(s RulesSource) prometheus.Collector {
	labels := []string{"rule", "action", "kind"}
	return &rulesCollector{
		s:       s,
		matched: prometheus.NewDesc("ocppd_rule_matched_total", "Messages a rule's statement selected.", []string{"rule"}, nil),
		rows:    prometheus.NewDesc("ocppd_rule_action_rows_total", "Rows handled by a rule's action, by result: ok, failed (the error action ran) or dropped.", append(labels, "result"), nil),
		retries: prometheus.NewDesc("ocppd_rule_action_retries_total", "Repeated attempts of a rule's action (webhooks).", labels, nil),
		queue:   prometheus.NewDesc("ocppd_rule_action_queue_depth", "Rows waiting in a rule action's queue.", labels, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *rulesCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.matched
	ch <- c.rows
	ch <- c.retries
	ch <- c.queue
}

// Collect implements prometheus.Collector.
func (c *rulesCollector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.s.Stats() {
		ch <- prometheus.MustNewConstMetric(c.matched, prometheus.CounterValue, float64(r.Matched), r.Name)
		emit := func(idx string, a rules.ActionStats) {
			for result, v := range map[string]uint64{"ok": a.OK, "failed": a.Failed, "dropped": a.Dropped} {
				ch <- prometheus.MustNewConstMetric(c.rows, prometheus.CounterValue, float64(v), r.Name, idx, a.Kind, result)
			}
			ch <- prometheus.MustNewConstMetric(c.retries, prometheus.CounterValue, float64(a.Retries), r.Name, idx, a.Kind)
			ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(a.Queued), r.Name, idx, a.Kind)
		}
		for i, a := range r.Actions {
			emit(strconv.Itoa(i), a)
		}
		if r.ErrorAction != nil {
			emit("error", *r.ErrorAction)
		}
	}
}
