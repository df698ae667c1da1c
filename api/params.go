package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Paging limits of list operations.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// List is the body of every list response: the page's items and, when
// there may be more, the cursor to pass as "after" for the next page.
type List[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// queryLimit reads the "limit" parameter: 1…maxLimit, default def.
func queryLimit(r *http.Request, def int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		return 0, invalid("limit", "expected an integer from 1 to %d, got %q", maxLimit, v)
	}
	return n, nil
}

// queryBool reads an optional boolean parameter.
func queryBool(r *http.Request, name string) (*bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return nil, invalid(name, "expected true or false, got %q", v)
	}
	return &b, nil
}

// queryTime reads an optional RFC 3339 time parameter.
func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, invalid(name, "expected an RFC 3339 time such as 2025-01-31T12:00:00Z, got %q", v)
	}
	return t.UTC(), nil
}

// queryInt reads an optional integer parameter in [lo, hi].
func queryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, invalid(name, "expected an integer from %d to %d, got %q", lo, hi, v)
	}
	return n, nil
}

// equalFold compares id tokens as the store does: ignoring case.
func equalFold(a, b string) bool { return strings.EqualFold(a, b) }

// rfc3339ms is the time format of times the API formats itself.
const rfc3339ms = "2006-01-02T15:04:05.000Z07:00"
