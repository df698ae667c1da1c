package rules_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ocppd/ocppd/rules"
)

// seedSQL is the statement of the aws-ocpp-gateway seed, verbatim (with
// the space after SELECT and the indentation).
const seedSQL = "SELECT \n  topic(1) AS chargePointId,\n  timestamp() AS lastTimestamp\nFROM '+/in'\nWHERE get(*, 2) = 'Heartbeat'"

var msgTime = time.UnixMilli(1700000000123)

const meterValues = `[2,"19223201","MeterValues",{"evseId":1,"meterValue":[{"timestamp":"2024-01-01T12:00:00.000Z",` +
	`"sampledValue":[{"value":1234.5,"measurand":"Energy.Active.Import.Register","unitOfMeasure":{"unit":"Wh"}},` +
	`{"value":7.2,"measurand":"Power.Active.Import","unitOfMeasure":{"unit":"kW"}},` +
	`{"value":230.1,"measurand":"Voltage","phase":"L1-N"},{"value":31.5,"measurand":"Current.Import","phase":"L1"}]}]}]`

func mustParse(t testing.TB, sql string) *rules.Statement {
	t.Helper()
	st, err := rules.Parse(sql)
	if err != nil {
		t.Fatalf("Parse(%q): %v", sql, err)
	}
	return st
}

func rowJSON(t testing.TB, r rules.Row) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSeedStatement(t *testing.T) {
	st := mustParse(t, seedSQL)
	if st.Topic() != "+/in" {
		t.Errorf("Topic() = %q", st.Topic())
	}
	row, ok := st.Eval(rules.Input{Topic: "CP1/in", Payload: []byte(`[2,"id","Heartbeat",{}]`), Timestamp: msgTime})
	if !ok {
		t.Fatal("Heartbeat on CP1/in did not match")
	}
	if got, want := rowJSON(t, row), `{"chargePointId":"CP1","lastTimestamp":1700000000123}`; got != want {
		t.Errorf("row %s, want %s", got, want)
	}
	boot := `[2,"id","BootNotification",{"reason":"PowerUp","chargingStation":{"model":"M","vendorName":"V"}}]`
	if row, ok := st.Eval(rules.Input{Topic: "CP1/in", Payload: []byte(boot), Timestamp: msgTime}); ok || row != nil {
		t.Errorf("BootNotification matched: %v", row)
	}
	if _, ok := st.Eval(rules.Input{Topic: "CP1/in", Payload: []byte(meterValues), Timestamp: msgTime}); ok {
		t.Error("MeterValues matched")
	}
}

func TestEval(t *testing.T) {
	tests := []struct {
		name    string
		sql     string
		topic   string // "x" when empty
		payload string
		want    string // the row as JSON; "" for no match
	}{
		// The seed rule against many payloads.
		{"seed: heartbeat with spaces", seedSQL, "CP7/in", ` [ 2 , "id" ,` + "\n" + `"Heartbeat" , { } ] `, `{"chargePointId":"CP7","lastTimestamp":1700000000123}`},
		{"seed: escaped action", seedSQL, "CP1/in", `[2,"id","Heart\u0062eat",{}]`, `{"chargePointId":"CP1","lastTimestamp":1700000000123}`},
		{"seed: other topic", seedSQL, "CP1/out", `[2,"id","Heartbeat",{}]`, ""},
		{"seed: deeper topic", seedSQL, "a/CP1/in", `[2,"id","Heartbeat",{}]`, ""},
		{"seed: CALLRESULT", seedSQL, "CP1/in", `[3,"id",{"currentTime":"2024-01-01T00:00:00Z"}]`, ""},
		{"seed: CALLERROR", seedSQL, "CP1/in", `[4,"id","Heartbeat","",{}]`, `{"chargePointId":"CP1","lastTimestamp":1700000000123}`},
		{"seed: not JSON", seedSQL, "CP1/in", `hello`, ""},
		{"seed: empty payload", seedSQL, "CP1/in", ``, ""},
		{"seed: truncated before the action", seedSQL, "CP1/in", `[2,"id",`, ""},
		{"seed: malformed element before the action", seedSQL, "CP1/in", `[2,"id,"Heartbeat",{}]`, ""},
		{"seed: object payload", seedSQL, "CP1/in", `{"2":"Heartbeat"}`, ""},
		{"seed: lowercase action", seedSQL, "CP1/in", `[2,"id","heartbeat",{}]`, ""},

		// Undefined: left out of SELECT, no match in WHERE.
		{"missing field left out", `SELECT a, b, c.d FROM 'x'`, "", `{"a":1,"c":5}`, `{"a":1}`},
		{"all undefined gives an empty row", `SELECT b FROM 'x'`, "", `{"a":1}`, `{}`},
		{"undefined WHERE", `SELECT a FROM 'x' WHERE b = 1`, "", `{"a":1}`, ""},
		{"undefined <> is undefined too", `SELECT a FROM 'x' WHERE b <> 1`, "", `{"a":1}`, ""},
		{"WHERE not boolean", `SELECT a FROM 'x' WHERE a`, "", `{"a":1}`, ""},
		{"WHERE string true", `SELECT a FROM 'x' WHERE a`, "", `{"a":"TRUE"}`, ""},
		{"WHERE TRUE", `SELECT a FROM 'x' WHERE TRUE`, "", `{"a":1}`, `{"a":1}`},
		{"null is a value", `SELECT a, isnull(a) AS n, a = NULL AS eq FROM 'x'`, "", `{"a":null}`, `{"a":null,"n":true,"eq":true}`},
		{"isundefined", `SELECT isundefined(a) AS a, isundefined(b) AS b FROM 'x'`, "", `{"a":0}`, `{"a":false,"b":true}`},

		// Comparisons.
		{"numbers numerically", `SELECT a = 1.0 AS eq, a > 9 AS gt, b < 1e3 AS lt FROM 'x'`, "", `{"a":1,"b":999.5}`, `{"eq":true,"gt":false,"lt":true}`},
		{"ten > nine", `SELECT a FROM 'x' WHERE a > 9`, "", `{"a":10}`, `{"a":10}`},
		{"strings lexically", `SELECT a > '9' AS gt, a < 'b' AS lt, a >= '10' AS ge FROM 'x'`, "", `{"a":"10"}`, `{"gt":false,"lt":true,"ge":true}`},
		{"numeric string and number", `SELECT a = 10 AS eq, a > 9 AS gt, 5 < a AS lt FROM 'x'`, "", `{"a":"10"}`, `{"eq":true,"gt":true,"lt":true}`},
		{"different types are not equal", `SELECT a = 'x' AS e1, a = TRUE AS e2, a <> 'x' AS ne, b = 1 AS e3 FROM 'x'`, "", `{"a":1,"b":"one"}`, `{"e1":false,"e2":false,"ne":true,"e3":false}`},
		{"ordering different types is undefined", `SELECT a < 'x' AS lt, NOT (a < 'x') AS nlt, c > 1 AS gt FROM 'x'`, "", `{"a":true,"c":{"k":1}}`, `{}`},
		{"arrays and objects by value", `SELECT a = b AS ab, a = c AS ac, o = p AS op FROM 'x'`, "", `{"a":[1,{"k":"v"}],"b":[1.0,{"k":"v"}],"c":[1],"o":{"x":1,"y":2},"p":{"y":2,"x":1}}`, `{"ab":true,"ac":false,"op":true}`},
		{"both != and <>", `SELECT 1 != 2 AS a, 1 <> 1 AS b FROM 'x'`, "", `{}`, `{"a":true,"b":false}`},

		// Logic.
		{"AND OR NOT", `SELECT a AND b AS conj, a OR b AS disj, NOT a AS neg FROM 'x'`, "", `{"a":true,"b":false}`, `{"conj":false,"disj":true,"neg":false}`},
		{"boolean strings", `SELECT a FROM 'x' WHERE a AND b`, "", `{"a":"TRUE","b":true}`, `{"a":"TRUE"}`},
		{"non-boolean operand", `SELECT a AND b AS x, NOT a AS y FROM 'x'`, "", `{"a":1,"b":true}`, `{}`},
		{"AND short-circuits", `SELECT a FROM 'x' WHERE NOT (a = 2 AND missing = 1)`, "", `{"a":1}`, `{"a":1}`},
		{"OR short-circuits", `SELECT a FROM 'x' WHERE a = 1 OR missing = 1`, "", `{"a":1}`, `{"a":1}`},
		{"OR with undefined right", `SELECT a FROM 'x' WHERE a = 2 OR missing = 1`, "", `{"a":1}`, ""},

		// Arithmetic.
		{"integer and decimal division", `SELECT 7 / 2 AS i, 7.0 / 2 AS f, 7 % 3 AS m, -7 / 2 AS n, 7.5 % 2 AS fm FROM 'x'`, "", `{}`, `{"i":3,"f":3.5,"m":1,"n":-3,"fm":1.5}`},
		{"division by zero", `SELECT 1 / 0 AS a, 1 % 0 AS b, 1.5 / 0 AS c, 1 AS d FROM 'x'`, "", `{}`, `{"d":1}`},
		{"numeric strings", `SELECT a * 2 AS x, a + b AS y, -a AS z FROM 'x'`, "", `{"a":"3","b":"0.5"}`, `{"x":6,"y":3.5,"z":-3}`},
		{"non-numeric operands", `SELECT a + 1 AS x, b * 2 AS y FROM 'x'`, "", `{"a":"abc","b":[1]}`, `{}`},
		{"integer overflow becomes decimal", `SELECT 9223372036854775807 + 1 AS a, -9223372036854775807 - 2 AS b, 4611686018427387904 * 4 AS c, - -9223372036854775808 AS d FROM 'x'`, "", `{}`,
			`{"a":9223372036854776000,"b":-9223372036854776000,"c":18446744073709552000,"d":9223372036854776000}`},
		{"precedence", `SELECT 1 + 2 * 3 AS a, (1 + 2) * 3 AS b, 10 - 4 - 3 AS c FROM 'x'`, "", `{}`, `{"a":7,"b":9,"c":3}`},
		{"non-finite results", `SELECT 1e308 * 10 AS a FROM 'x'`, "", `{}`, `{}`},

		// Paths.
		{"meter value path", `SELECT get(*, 3).meterValue[0].sampledValue[1].value AS kw, get(*, 3).evseId AS evse FROM '+/in' WHERE get(*, 2) = 'MeterValues'`, "CP1/in", meterValues, `{"kw":7.2,"evse":1}`},
		{"get on objects and arrays", `SELECT get(a, 'b') AS x, get(a.c, 1) AS y, a['b'] AS z, a.c[1.0] AS w FROM 'x'`, "", `{"a":{"b":"B","c":[10,20]}}`, `{"x":"B","y":20,"z":"B","w":20}`},
		{"index out of range and wrong types", `SELECT a[5] AS x, a[-1] AS y, a['k'] AS z, a[0.5] AS w, o[0] AS v, s.k AS u FROM 'x'`, "", `{"a":[1],"o":{"k":1},"s":"str"}`, `{}`},
		{"duplicate keys: last wins", `SELECT a FROM 'x'`, "", `{"a":1,"a":2}`, `{"a":2}`},
		{"escaped keys", `SELECT "a b", "q""" FROM 'x'`, "", `{"a\u0020b":1,"q\"":2}`, `{"a b":1,"q\"":2}`},
		{"names from paths", `SELECT a.b, a.c.d, a.c FROM 'x'`, "", `{"a":{"b":1,"c":{"d":2}}}`, `{"b":1,"d":2,"c":{"d":2}}`},
		{"unnamed items", `SELECT 1, 'two', upper('x') FROM 'x'`, "", `{}`, `{"_1":1,"_2":"two","_3":"X"}`},
		{"keyword-like member quoted", `SELECT a."from" AS f FROM 'x'`, "", `{"a":{"from":"here"}}`, `{"f":"here"}`},
		{"scalar payload", `SELECT * AS p, * + 1 AS q FROM 'x'`, "", ` 41 `, `{"p":41,"q":42}`},
		{"unicode escapes", `SELECT a FROM 'x'`, "", `{"a":"\u00e9\ud83d\ude00\n\/"}`, `{"a":"é😀\n/"}`},

		// SELECT *.
		{"star on an object keeps member order", `SELECT * FROM 'x'`, "", `{"z":1,"a":{"n":[1,2.5,"s",null,true]},"m":"x"}`, `{"z":1,"a":{"n":[1,2.5,"s",null,true]},"m":"x"}`},
		{"star on an array", `SELECT * FROM 'x'`, "", `[2,"id","Heartbeat",{}]`, `{"payload":[2,"id","Heartbeat",{}]}`},
		{"star AS name", `SELECT * AS frame, topic() AS t FROM '+/in'`, "CP1/in", `[2,"id","Heartbeat",{}]`, `{"frame":[2,"id","Heartbeat",{}],"t":"CP1/in"}`},
		{"star with other items, later wins", `SELECT *, 'new' AS a FROM 'x'`, "", `{"a":"old","b":1}`, `{"a":"new","b":1}`},
		{"star on invalid JSON", `SELECT *, 1 AS one FROM 'x'`, "", `[1,2`, `{"one":1}`},
		{"star on JSON with trailing data", `SELECT * AS p FROM 'x'`, "", `[1] x`, `{}`},
		{"SELECT order kept", `SELECT b, a FROM 'x'`, "", `{"a":1,"b":2}`, `{"b":2,"a":1}`},
		{"same name twice", `SELECT a AS v, b AS v FROM 'x'`, "", `{"a":1,"b":2}`, `{"v":2}`},

		// Functions.
		{"topic levels", `SELECT topic() AS t, topic(1) AS a, topic(3) AS c, topic(4) AS d, topic(0) AS z FROM '#'`, "a/b/c", `{}`, `{"t":"a/b/c","a":"a","c":"c"}`},
		{"topic empty levels", `SELECT topic(1) AS a, topic(2) AS b FROM '#'`, "/x", `{}`, `{"a":"","b":"x"}`},
		{"clientid", `SELECT clientid() AS c FROM 'x'`, "", `{}`, `{"c":"gw-1"}`},
		{"string functions", `SELECT upper(a) AS u, lower(a) AS l, trim(b) AS t, length(a) AS n, length(c) AS cn FROM 'x'`, "", `{"a":"Grüße","b":"  x  ","c":[1,[2,3],{}]}`,
			`{"u":"GRÜßE","l":"grüße","t":"x","n":5,"cn":3}`},
		{"length of arrays", `SELECT length(a) AS a, length(b) AS b, length(c) AS c, length(*) AS all FROM 'x'`, "", `{"a":[],"b":[ 1 , [2,[3]] ],"c":[1,}`, `{"a":0,"b":2}`},
		{"string functions on other types", `SELECT upper(1) AS u, length(2) AS n, trim(NULL) AS t FROM 'x'`, "", `{}`, `{}`},
		{"concat", `SELECT concat(a, '-', 1, '-', 2.5, '-', TRUE) AS s, concat(l, m) AS l, concat(a, NULL) AS n, concat(a, l) AS mix FROM 'x'`, "", `{"a":"x","l":[1],"m":[2,{"k":3}]}`,
			`{"s":"x-1-2.5-true","l":[1,2,{"k":3}]}`},
		{"substring", `SELECT substring(s, 2) AS a, substring(s, 1, 3) AS b, substring(s, -5, 2) AS c, substring(s, 4, 99) AS d, substring(s, 3, 1) AS e, substring(s, 9) AS f FROM 'x'`, "", `{"s":"héllo"}`,
			`{"a":"llo","b":"él","c":"hé","d":"o","e":"","f":""}`},
		{"startswith endswith", `SELECT startswith(a, 'Boot') AS s, endswith(a, 'tion') AS e, startswith(a, 1) AS u FROM 'x'`, "", `{"a":"BootNotification"}`, `{"s":true,"e":true}`},
		{"numeric functions", `SELECT abs(-2) AS a, abs(-2.5) AS b, round(2.5) AS c, round(-2.5) AS d, floor(2.7) AS e, ceil(2.1) AS f, round(7) AS g, abs('x') AS h FROM 'x'`, "", `{}`,
			`{"a":2,"b":2.5,"c":3,"d":-3,"e":2,"f":3,"g":7}`},
		{"coalesce", `SELECT coalesce(a, b, c) AS x, coalesce(a, n) AS y, coalesce(a) AS z FROM 'x'`, "", `{"n":null,"c":"c"}`, `{"x":"c","y":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := mustParse(t, tt.sql)
			topic := tt.topic
			if topic == "" {
				topic = "x"
			}
			row, ok := st.Eval(rules.Input{Topic: topic, Payload: []byte(tt.payload), ClientID: "gw-1", Timestamp: msgTime})
			if tt.want == "" {
				if ok || row != nil {
					t.Fatalf("matched: %s", rowJSON(t, row))
				}
				return
			}
			if !ok {
				t.Fatal("did not match")
			}
			if got := rowJSON(t, row); got != tt.want {
				t.Errorf("row\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestEvalTypes(t *testing.T) {
	st := mustParse(t, `SELECT i, f, s, b, n, a, o, 1.5 AS lit FROM 'x'`)
	row, ok := st.Eval(rules.Input{Topic: "x", Payload: []byte(`{"i":3,"f":2.5,"s":"str","b":true,"n":null,"a":[1,2.0],"o":{"k":1e2}}`)})
	if !ok {
		t.Fatal("no match")
	}
	want := map[string]any{
		"i": int64(3), "f": 2.5, "s": "str", "b": true, "n": nil,
		"a": []any{int64(1), 2.0}, "o": map[string]any{"k": 100.0}, "lit": 1.5,
	}
	got := row.Map()
	if len(got) != len(want) {
		t.Fatalf("row %v", got)
	}
	for k, w := range want {
		if g, _ := row.Get(k); !deepEqualTyped(g, w) {
			t.Errorf("%s = %#v (%T), want %#v (%T)", k, g, g, w, w)
		}
	}
	if _, ok := row.Get("nope"); ok {
		t.Error("Get of an absent field reports ok")
	}
}

func deepEqualTyped(a, b any) bool {
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	switch a.(type) {
	case int64, float64, string, bool, nil, []any, map[string]any:
	default:
		return false
	}
	if _, ok := a.(int64); ok {
		if _, ok := b.(int64); !ok {
			return false
		}
	}
	if _, ok := a.(float64); ok {
		if _, ok := b.(float64); !ok {
			return false
		}
	}
	return string(ab) == string(bb)
}

func TestEvalDoesNotRetainPayload(t *testing.T) {
	st := mustParse(t, `SELECT get(*, 2) AS action, get(*, 3).k AS k, * AS all FROM 'x'`)
	payload := []byte(`[2,"id","Heartbeat",{"k":"value"}]`)
	row, ok := st.Eval(rules.Input{Topic: "x", Payload: payload})
	if !ok {
		t.Fatal("no match")
	}
	for i := range payload {
		payload[i] = 'X'
	}
	if got, want := rowJSON(t, row), `{"action":"Heartbeat","k":"value","all":[2,"id","Heartbeat",{"k":"value"}]}`; got != want {
		t.Errorf("row changed with the payload buffer: %s", got)
	}
}

func TestEvalTimestampDefaultsToNow(t *testing.T) {
	st := mustParse(t, `SELECT timestamp() AS ts FROM 'x'`)
	before := time.Now().UnixMilli()
	row, _ := st.Eval(rules.Input{Topic: "x"})
	after := time.Now().UnixMilli()
	ts, _ := row.Get("ts")
	if n, ok := ts.(int64); !ok || n < before || n > after {
		t.Errorf("timestamp() = %v, want between %d and %d", ts, before, after)
	}
}

func TestMatchTopic(t *testing.T) {
	tests := []struct {
		filter, topic string
		want          bool
	}{
		{"+/in", "CP1/in", true},
		{"+/in", "CP1/out", false},
		{"+/in", "a/b/in", false},
		{"+/in", "/in", true},
		{"+/in", "CP1/in/x", false},
		{"+/in", "CP1", false},
		{"+/in", "", false},
		{"#", "a", true},
		{"#", "a/b/c", true},
		{"#", "/", true},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"a/#", "a", true},
		{"a/#", "a/b", true},
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"a/+", "a", false},
		{"a/+", "a/", true},
		{"a/+", "a/b/c", false},
		{"a/b", "a/b", true},
		{"a/b", "a/b/", false},
		{"a/b", "a/bc", false},
		{"+", "a", true},
		{"+", "a/b", false},
		{"+/+", "a/b", true},
		{"a/+/c/#", "a/x/c", true},
		{"a/+/c/#", "a/x/d", false},
		{"fleet1/+/in", "fleet1/CP1/in", true},
	}
	for _, tt := range tests {
		st := mustParse(t, "SELECT * FROM '"+tt.filter+"'")
		if got := st.MatchTopic(tt.topic); got != tt.want {
			t.Errorf("MatchTopic(%q, %q) = %v, want %v", tt.filter, tt.topic, got, tt.want)
		}
	}
}

func TestRowJSON(t *testing.T) {
	r := rules.Row{{Name: "z", Value: 1}, {Name: "a\"b", Value: []any{"x"}}, {Name: "m", Value: nil}}
	if got, want := rowJSON(t, r), `{"z":1,"a\"b":["x"],"m":null}`; got != want {
		t.Errorf("%s, want %s", got, want)
	}
	if got := rowJSON(t, rules.Row{}); got != `{}` {
		t.Errorf("empty row %s", got)
	}
	if _, err := json.Marshal(rules.Row{{Name: "f", Value: func() {}}}); err == nil {
		t.Error("unmarshalable value did not fail")
	}
}

func TestStatementConcurrentUse(t *testing.T) {
	st := mustParse(t, seedSQL)
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			ok := true
			for i := 0; i < 200; i++ {
				row, m := st.Eval(rules.Input{Topic: "CP1/in", Payload: []byte(`[2,"id","Heartbeat",{}]`), Timestamp: msgTime})
				ok = ok && m && len(row) == 2
			}
			done <- ok
		}()
	}
	for g := 0; g < 4; g++ {
		if !<-done {
			t.Error("concurrent evaluation failed")
		}
	}
}
