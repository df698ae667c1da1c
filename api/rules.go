package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/rules"
	"github.com/ocppd/ocppd/store"
)

// RulesEngine is the rules engine behind /rules and /tables;
// *rules.Engine implements it.
type RulesEngine interface {
	List(ctx context.Context) ([]rules.Rule, error)
	Get(ctx context.Context, name string) (rules.Rule, error)
	Create(ctx context.Context, r rules.Rule) (rules.Rule, error)
	Update(ctx context.Context, r rules.Rule) (rules.Rule, error)
	SetEnabled(ctx context.Context, name string, enabled bool) (rules.Rule, error)
	Delete(ctx context.Context, name string) error
	Stats() []rules.RuleStats
	Tables(ctx context.Context) ([]store.TableInfo, error)
	TableRows(ctx context.Context, table string, opts store.TableListOptions) ([]store.TableRow, error)
	TableRow(ctx context.Context, table, key string) (store.TableRow, error)
}

// RuleView is a rule with the counters of its running version in this
// process (absent when it does not run here: disabled, or the engine runs
// in another process).
type RuleView struct {
	rules.Rule
	Stats *rules.RuleStats `json:"stats,omitempty"`
}

// MarshalJSON writes the rule's own JSON with "stats" added (explicit, so
// that the rule's JSON methods do not hide Stats).
func (v RuleView) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(v.Rule)
	if err != nil || v.Stats == nil || len(b) < 2 || b[len(b)-1] != '}' {
		return b, err
	}
	st, err := json.Marshal(v.Stats)
	if err != nil {
		return nil, err
	}
	b = append(b[:len(b)-1], `,"stats":`...)
	b = append(b, st...)
	return append(b, '}'), nil
}

func (s *Server) rulesEngine() (RulesEngine, error) {
	if s.opts.Rules == nil {
		return nil, ocppd.Errorf(ocppd.ENOTIMPL, "the rules engine is not available in this process")
	}
	return s.opts.Rules, nil
}

func (s *Server) ruleView(e RulesEngine, r rules.Rule) RuleView {
	v := RuleView{Rule: r}
	for _, st := range e.Stats() {
		if st.Name == r.Name {
			v.Stats = &st
			break
		}
	}
	return v
}

// ruleField guesses the field an invalid rule's error is about from its
// message, for the error body.
func ruleField(err error) error {
	if ocppd.ErrorCode(err) != ocppd.EINVALID {
		return err
	}
	msg := strings.ToLower(ocppd.ErrorMessage(err))
	field := ""
	switch {
	case strings.Contains(msg, "erroraction"), strings.Contains(msg, "error action"):
		field = "errorAction"
	case strings.Contains(msg, "action"):
		field = "actions"
	case strings.Contains(msg, "name"):
		field = "name"
	case strings.Contains(msg, "sql"), strings.Contains(msg, "select"), strings.Contains(msg, "statement"),
		strings.Contains(msg, "from"), strings.Contains(msg, "where"), strings.Contains(msg, "syntax"):
		field = "sql"
	}
	return withField(err, field)
}

// readRule decodes a rule body with the rules package's strict parser
// (unknown fields are an error). With a name (PUT /rules/{name}) the body
// may leave the name out; if it has one, it must be that.
func readRule(w http.ResponseWriter, r *http.Request, name string) (rules.Rule, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return rules.Rule{}, decodeError(err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return rules.Rule{}, invalid("", "the request body is empty; expected a rule")
	}
	if name != "" {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return rules.Rule{}, decodeError(err)
		}
		if raw, ok := m["name"]; ok {
			var got string
			if json.Unmarshal(raw, &got) != nil || got != name {
				return rules.Rule{}, invalid("name", "the body names rule %s, the path %q", raw, name)
			}
		}
		m["name"], _ = json.Marshal(name)
		b, _ = json.Marshal(m)
	}
	rule, err := rules.ParseRule(b)
	if err != nil {
		return rules.Rule{}, ruleField(err)
	}
	return rule, nil
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request) error {
	e, err := s.rulesEngine()
	if err != nil {
		return err
	}
	rs, err := e.List(r.Context())
	if err != nil {
		return err
	}
	out := List[RuleView]{Items: make([]RuleView, 0, len(rs))}
	for _, x := range rs {
		out.Items = append(out.Items, s.ruleView(e, x))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getRule(w http.ResponseWriter, r *http.Request) error {
	e, err := s.rulesEngine()
	if err != nil {
		return err
	}
	x, err := e.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.ruleView(e, x))
	return nil
}

func (s *Server) createRule(w http.ResponseWriter, r *http.Request) error {
	e, err := s.rulesEngine()
	if err != nil {
		return err
	}
	in, err := readRule(w, r, "")
	if err != nil {
		return err
	}
	x, err := e.Create(r.Context(), in)
	if err != nil {
		return ruleField(err)
	}
	w.Header().Set("Location", Prefix+"/rules/"+url.PathEscape(x.Name))
	writeJSON(w, http.StatusCreated, s.ruleView(e, x))
	return nil
}

// updateRule replaces a rule; the body's name, if any, must be the path's.
func (s *Server) updateRule(w http.ResponseWriter, r *http.Request) error {
	e, err := s.rulesEngine()
	if err != nil {
		return err
	}
	in, err := readRule(w, r, r.PathValue("name"))
	if err != nil {
		return err
	}
	x, err := e.Update(r.Context(), in)
	if err != nil {
		return ruleField(err)
	}
	writeJSON(w, http.StatusOK, s.ruleView(e, x))
	return nil
}

// patchRule is the body of PATCH /rules/{name}.
type patchRule struct {
	Enabled *bool `json:"enabled"`
}

func (s *Server) patchRule(w http.ResponseWriter, r *http.Request) error {
	e, err := s.rulesEngine()
	if err != nil {
		return err
	}
	var in patchRule
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Enabled == nil {
		return invalid("enabled", "required: true or false")
	}
	x, err := e.SetEnabled(r.Context(), r.PathValue("name"), *in.Enabled)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.ruleView(e, x))
	return nil
}

func (s *Server) deleteRule(w http.ResponseWriter, r *http.Request) error {
	e, err := s.rulesEngine()
	if err != nil {
		return err
	}
	if err := e.Delete(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// TableView summarises a rule table.
type TableView struct {
	Name      string `json:"name"`
	Rows      int    `json:"rows"`
	UpdatedAt string `json:"updatedAt,omitempty"`
}

func (s *Server) listTables(w http.ResponseWriter, r *http.Request) error {
	e, err := s.rulesEngine()
	if err != nil {
		return err
	}
	ts, err := e.Tables(r.Context())
	if err != nil {
		return err
	}
	out := List[TableView]{Items: make([]TableView, 0, len(ts))}
	for _, t := range ts {
		v := TableView{Name: t.Name, Rows: t.Rows}
		if !t.UpdatedAt.IsZero() {
			v.UpdatedAt = t.UpdatedAt.UTC().Format(rfc3339ms)
		}
		out.Items = append(out.Items, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// RowView is one row of a rule table.
type RowView struct {
	Key       string          `json:"key"`
	Data      json.RawMessage `json:"data"`
	UpdatedAt string          `json:"updatedAt"`
}

func rowView(t store.TableRow) RowView {
	return RowView{Key: t.Key, Data: t.Data, UpdatedAt: t.UpdatedAt.UTC().Format(rfc3339ms)}
}

func (s *Server) listTableRows(w http.ResponseWriter, r *http.Request) error {
	e, err := s.rulesEngine()
	if err != nil {
		return err
	}
	limit, err := queryLimit(r, defaultLimit)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	rows, err := e.TableRows(r.Context(), r.PathValue("table"), store.TableListOptions{Prefix: q.Get("prefix"), After: q.Get("after"), Limit: limit + 1})
	if err != nil {
		return err
	}
	out := List[RowView]{Items: []RowView{}}
	for i, row := range rows {
		if i == limit {
			out.Next = rows[limit-1].Key
			break
		}
		out.Items = append(out.Items, rowView(row))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getTableRow(w http.ResponseWriter, r *http.Request) error {
	e, err := s.rulesEngine()
	if err != nil {
		return err
	}
	row, err := e.TableRow(r.Context(), r.PathValue("table"), r.PathValue("key"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rowView(row))
	return nil
}
