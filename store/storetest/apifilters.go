package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/ocppd/ocppd/store"
)

// testTransactionTimeAndOffset checks the TransactionFilter fields the
// operator API pages with: From/To on StartedAt ([From, To)) and Offset.
func testTransactionTimeAndOffset(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, "CP1")
	for i := range 5 {
		_, _, err := s.ApplyTransactionUpdate(ctx, store.TransactionUpdate{
			ChargePointID: "CP1", TransactionID: fmt.Sprintf("T%d", i), EventKey: fmt.Sprintf("T%d#0", i),
			EventType: "Started", Timestamp: at(i * 60), At: at(i * 60),
			Apply: func(tx *store.Transaction, found bool) error {
				tx.Protocol, tx.StartedAt, tx.State = "ocpp2.0.1", at(i*60), store.TransactionActive
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	ids := func(f store.TransactionFilter) string {
		t.Helper()
		txs, err := s.ListTransactions(ctx, f)
		if err != nil {
			t.Fatalf("ListTransactions(%+v): %v", f, err)
		}
		out := ""
		for _, tx := range txs {
			out += tx.TransactionID
		}
		return out
	}
	for _, tc := range []struct {
		f    store.TransactionFilter
		want string
	}{
		{store.TransactionFilter{}, "T4T3T2T1T0"},
		{store.TransactionFilter{From: at(60)}, "T4T3T2T1"},
		{store.TransactionFilter{To: at(120)}, "T1T0"},
		{store.TransactionFilter{From: at(60), To: at(180)}, "T2T1"},
		{store.TransactionFilter{Limit: 2, Offset: 1}, "T3T2"},
		{store.TransactionFilter{Offset: 4}, "T0"},
		{store.TransactionFilter{Limit: 2, Offset: 5}, ""},
		{store.TransactionFilter{From: at(60), Limit: 1, Offset: 1}, "T3"},
	} {
		if got := ids(tc.f); got != tc.want {
			t.Errorf("ListTransactions(%+v) = %s, want %s", tc.f, got, tc.want)
		}
	}
}
