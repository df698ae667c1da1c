package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/store"
)

// rulesTests are the conformance tests of store.Rules; Run runs them.
var rulesTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"RuleCreateGetList", testRuleCreateGetList},
	{"RuleUpdateEnableDelete", testRuleUpdateEnableDelete},
	{"RuleRevision", testRuleRevision},
	{"RuleInvalidDefinition", testRuleInvalid},
	{"TableRowsUpsert", testTableRowsUpsert},
	{"TableRowsInvalid", testTableRowsInvalid},
	{"TableRowsListAndPage", testTableRowsList},
	{"TablesListAndDelete", testTablesListDelete},
	{"TableRowsSurviveStationDelete", testTableRowsStationDelete},
}

// runRules runs the store.Rules conformance tests as subtests of t.
func runRules(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range rulesTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// jsonEqual reports whether a and b hold the same JSON value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

func rule(name string, enabled bool, def string, when int) store.RuleRecord {
	return store.RuleRecord{Name: name, Definition: json.RawMessage(def), Enabled: enabled, CreatedAt: at(when), UpdatedAt: at(when)}
}

func checkRule(t *testing.T, got, want store.RuleRecord) {
	t.Helper()
	if got.Name != want.Name || got.Enabled != want.Enabled || !jsonEqual(t, got.Definition, want.Definition) {
		t.Errorf("rule = %s %v %s, want %s %v %s", got.Name, got.Enabled, got.Definition, want.Name, want.Enabled, want.Definition)
	}
	checkTime(t, want.Name+" CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, want.Name+" UpdatedAt", got.UpdatedAt, want.UpdatedAt)
}

func testRuleCreateGetList(t *testing.T, s store.Store) {
	ctx := context.Background()
	b := rule("b", true, `{"sql":"SELECT * FROM '+/in'","actions":[{"log":{}}]}`, 1)
	a := rule("a", false, `{"sql":"SELECT 1 FROM 'x'"}`, 2)
	for _, r := range []store.RuleRecord{b, a} {
		if err := s.CreateRule(ctx, r); err != nil {
			t.Fatalf("CreateRule(%s): %v", r.Name, err)
		}
	}
	wantCode(t, s.CreateRule(ctx, rule("a", true, `{}`, 3)), ocppd.ECONFLICT)
	got, err := s.GetRule(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	checkRule(t, got, b)
	_, err = s.GetRule(ctx, "nope")
	wantCode(t, err, ocppd.ENOTFOUND)
	all, err := s.ListRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Fatalf("ListRules = %d rules, want 2", len(all))
	}
	checkRule(t, all[0], a) // ordered by name; a is unchanged by the failed create
	checkRule(t, all[1], b)
}

func testRuleUpdateEnableDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.CreateRule(ctx, rule("r", true, `{"v":1}`, 1)); err != nil {
		t.Fatal(err)
	}
	upd := rule("r", true, `{"v":2}`, 5)
	upd.CreatedAt = at(4) // ignored: CreatedAt is kept
	if err := s.UpdateRule(ctx, upd); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRule(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	want := rule("r", true, `{"v":2}`, 5)
	want.CreatedAt = at(1)
	checkRule(t, got, want)

	if err := s.SetRuleEnabled(ctx, "r", false, at(7)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetRule(ctx, "r")
	want.Enabled, want.UpdatedAt = false, at(7)
	checkRule(t, got, want)

	wantCode(t, s.UpdateRule(ctx, rule("x", true, `{}`, 1)), ocppd.ENOTFOUND)
	wantCode(t, s.SetRuleEnabled(ctx, "x", true, at(1)), ocppd.ENOTFOUND)
	if err := s.DeleteRule(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.DeleteRule(ctx, "r"), ocppd.ENOTFOUND)
	_, err = s.GetRule(ctx, "r")
	wantCode(t, err, ocppd.ENOTFOUND)
	if all, err := s.ListRules(ctx); err != nil || len(all) != 0 {
		t.Fatalf("ListRules after delete = %v, %v; want none", all, err)
	}
}

func testRuleRevision(t *testing.T, s store.Store) {
	ctx := context.Background()
	rev := func() int64 {
		t.Helper()
		r, err := s.RulesRevision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	last := rev()
	step := func(what string, err error, changes bool) {
		t.Helper()
		now := rev()
		switch {
		case changes && err != nil:
			t.Fatalf("%s: %v", what, err)
		case changes && now <= last:
			t.Errorf("%s: revision %d, want more than %d", what, now, last)
		case !changes && now != last:
			t.Errorf("failed %s changed the revision from %d to %d", what, last, now)
		}
		last = now
	}
	step("create", s.CreateRule(ctx, rule("r", true, `{}`, 1)), true)
	step("duplicate create", s.CreateRule(ctx, rule("r", true, `{}`, 1)), false)
	step("update", s.UpdateRule(ctx, rule("r", true, `{"a":1}`, 2)), true)
	step("update unknown", s.UpdateRule(ctx, rule("q", true, `{}`, 2)), false)
	step("disable", s.SetRuleEnabled(ctx, "r", false, at(3)), true)
	step("delete", s.DeleteRule(ctx, "r"), true)
	step("delete unknown", s.DeleteRule(ctx, "r"), false)
	step("table rows", s.PutTableRows(ctx, []store.TableRow{{Table: "t", Key: "k", Data: json.RawMessage(`{}`)}}), false)
}

func testRuleInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	wantCode(t, s.CreateRule(ctx, rule("r", true, `{`, 1)), ocppd.EINVALID)
	if err := s.CreateRule(ctx, rule("r", true, `{}`, 1)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.UpdateRule(ctx, rule("r", true, `nope`, 1)), ocppd.EINVALID)
}

func row(table, key, data string, when int) store.TableRow {
	return store.TableRow{Table: table, Key: key, Data: json.RawMessage(data), UpdatedAt: at(when)}
}

func getRow(t *testing.T, s store.Store, table, key string) store.TableRow {
	t.Helper()
	r, err := s.GetTableRow(context.Background(), table, key)
	if err != nil {
		t.Fatalf("GetTableRow(%s, %s): %v", table, key, err)
	}
	return r
}

func testTableRowsUpsert(t *testing.T, s store.Store) {
	ctx := context.Background()
	err := s.PutTableRows(ctx, []store.TableRow{
		row("chargePointHeartbeat", "CP1", `{"chargePointId":"CP1","lastTimestamp":1}`, 1),
		row("chargePointHeartbeat", "CP2", `{"chargePointId":"CP2","lastTimestamp":2}`, 2),
		row("other", "CP1", `{"x":true}`, 3),
		// the later duplicate wins
		row("chargePointHeartbeat", "CP1", `{"chargePointId":"CP1","lastTimestamp":4}`, 4),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := getRow(t, s, "chargePointHeartbeat", "CP1")
	if !jsonEqual(t, r.Data, []byte(`{"chargePointId":"CP1","lastTimestamp":4}`)) || r.Table != "chargePointHeartbeat" || r.Key != "CP1" {
		t.Errorf("row = %+v (%s), want lastTimestamp 4", r, r.Data)
	}
	checkTime(t, "UpdatedAt", r.UpdatedAt, at(4))
	// An upsert replaces the whole row.
	if err := s.PutTableRows(ctx, []store.TableRow{row("chargePointHeartbeat", "CP1", `{"y":1}`, 9)}); err != nil {
		t.Fatal(err)
	}
	r = getRow(t, s, "chargePointHeartbeat", "CP1")
	if !jsonEqual(t, r.Data, []byte(`{"y":1}`)) {
		t.Errorf("after replace: %s, want {\"y\":1}", r.Data)
	}
	checkTime(t, "UpdatedAt", r.UpdatedAt, at(9))
	if r := getRow(t, s, "other", "CP1"); !jsonEqual(t, r.Data, []byte(`{"x":true}`)) {
		t.Errorf("other table: %s", r.Data)
	}
	_, err = s.GetTableRow(ctx, "chargePointHeartbeat", "CP9")
	wantCode(t, err, ocppd.ENOTFOUND)
	_, err = s.GetTableRow(ctx, "nope", "CP1")
	wantCode(t, err, ocppd.ENOTFOUND)
	if err := s.PutTableRows(ctx, nil); err != nil {
		t.Errorf("PutTableRows(nil) = %v", err)
	}
}

func testTableRowsInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, bad := range []store.TableRow{
		row("", "k", `{}`, 1),
		row("t", "", `{}`, 1),
		row("t", "k", `[1]`, 1),
		row("t", "k", `{`, 1),
		row("t", "k", ``, 1),
	} {
		// the good row before the bad one is not written either
		err := s.PutTableRows(ctx, []store.TableRow{row("t", "good", `{}`, 1), bad})
		wantCode(t, err, ocppd.EINVALID)
	}
	_, err := s.GetTableRow(ctx, "t", "good")
	wantCode(t, err, ocppd.ENOTFOUND)
}

func testTableRowsList(t *testing.T, s store.Store) {
	ctx := context.Background()
	var rows []store.TableRow
	keys := []string{"b", "a", "ab", "a_%", "B", "c*"}
	for i, k := range keys {
		rows = append(rows, row("t", k, `{"k":"`+k+`"}`, i))
	}
	rows = append(rows, row("u", "a", `{}`, 1))
	if err := s.PutTableRows(ctx, rows); err != nil {
		t.Fatal(err)
	}
	list := func(opts store.TableListOptions) []string {
		t.Helper()
		got, err := s.ListTableRows(ctx, "t", opts)
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, r := range got {
			if r.Table != "t" {
				t.Errorf("row of table %q", r.Table)
			}
			ks = append(ks, r.Key)
		}
		return ks
	}
	check := func(opts store.TableListOptions, want ...string) {
		t.Helper()
		if got := list(opts); !slices.Equal(got, want) {
			t.Errorf("ListTableRows(%+v) = %q, want %q", opts, got, want)
		}
	}
	check(store.TableListOptions{}, "B", "a", "a_%", "ab", "b", "c*")
	check(store.TableListOptions{Limit: 2}, "B", "a")
	check(store.TableListOptions{After: "a", Limit: 2}, "a_%", "ab")
	check(store.TableListOptions{Prefix: "a"}, "a", "a_%", "ab")
	check(store.TableListOptions{Prefix: "a_"}, "a_%")
	check(store.TableListOptions{Prefix: "c*"}, "c*")
	check(store.TableListOptions{Prefix: "c"}, "c*")
	check(store.TableListOptions{Prefix: "a", After: "a_%"}, "ab")
	if got, err := s.ListTableRows(ctx, "nope", store.TableListOptions{}); err != nil || len(got) != 0 {
		t.Errorf("unknown table: %v, %v", got, err)
	}
}

func testTablesListDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	if tabs, err := s.ListTables(ctx); err != nil || len(tabs) != 0 {
		t.Fatalf("ListTables on an empty store = %v, %v", tabs, err)
	}
	if err := s.PutTableRows(ctx, []store.TableRow{
		row("z", "1", `{}`, 1), row("z", "2", `{}`, 5), row("y", "1", `{}`, 3),
	}); err != nil {
		t.Fatal(err)
	}
	tabs, err := s.ListTables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tabs) != 2 || tabs[0].Name != "y" || tabs[0].Rows != 1 || tabs[1].Name != "z" || tabs[1].Rows != 2 {
		t.Fatalf("ListTables = %+v, want y (1 row), z (2 rows)", tabs)
	}
	checkTime(t, "z UpdatedAt", tabs[1].UpdatedAt, at(5))
	if err := s.DeleteTable(ctx, "z"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.DeleteTable(ctx, "z"), ocppd.ENOTFOUND)
	tabs, _ = s.ListTables(ctx)
	if len(tabs) != 1 || tabs[0].Name != "y" {
		t.Errorf("after delete: %+v, want y only", tabs)
	}
}

func testTableRowsStationDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1")
	if err := s.PutTableRows(ctx, []store.TableRow{row("hb", "CP1", `{}`, 1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteChargePoint(ctx, "CP1"); err != nil {
		t.Fatal(err)
	}
	getRow(t, s, "hb", "CP1")
}
