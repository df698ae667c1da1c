package bustest_test

import (
	"testing"

	"github.com/ocppd/ocppd/bus"
	"github.com/ocppd/ocppd/bus/bustest"
	"github.com/ocppd/ocppd/bus/memory"
)

// TestMemory runs the suite against the in-memory bus, which checks the
// suite itself against the simplest implementation of the contract.
func TestMemory(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bus.Bus { return memory.New() })
}
