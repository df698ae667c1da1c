package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ocppd/ocppd"
)

// Error is an API error with the field of the request it is about. Handlers
// return it (through invalid) for bad input; other errors are *ocppd.Error
// from the store and the CSMS, or unexpected ones.
type Error struct {
	// Status overrides the status derived from Code (for 405 and the
	// like); 0 derives it.
	Status  int
	Code    string // an ocppd.E* code
	Message string
	// Field names the request field at fault: a JSON member path
	// ("registration", "state.desired"), a query parameter or a path
	// parameter.
	Field string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return e.Code + ": " + e.Message
}

// invalid returns an EINVALID error about field.
func invalid(field, format string, args ...any) error {
	return &Error{Code: ocppd.EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// withField returns err as an *Error naming field if it is an EINVALID
// domain error (from the store or a validator) without one.
func withField(err error, field string) error {
	if err == nil || ocppd.ErrorCode(err) != ocppd.EINVALID {
		return err
	}
	var ae *Error
	if errors.As(err, &ae) {
		return err
	}
	return &Error{Code: ocppd.EINVALID, Field: field, Message: ocppd.ErrorMessage(err)}
}

// httpStatus maps an ocppd error code to its HTTP status. This is the one
// place where that mapping lives.
func httpStatus(code string) int {
	switch code {
	case ocppd.EINVALID:
		return http.StatusBadRequest
	case ocppd.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case ocppd.EFORBIDDEN:
		return http.StatusForbidden
	case ocppd.ENOTFOUND:
		return http.StatusNotFound
	case ocppd.ECONFLICT:
		return http.StatusConflict
	case ocppd.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case ocppd.ENOTIMPL:
		return http.StatusNotImplemented
	case "too_large":
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// writeError answers err. Internal errors are logged with the request and
// answered with a message that reveals nothing.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		d      errorDetail
		status int
		ae     *Error
	)
	if errors.As(err, &ae) {
		d = errorDetail{Code: ae.Code, Message: ae.Message, Field: ae.Field}
		status = ae.Status
		if status == 0 {
			status = httpStatus(ae.Code)
		}
	} else {
		d = errorDetail{Code: ocppd.ErrorCode(err), Message: ocppd.ErrorMessage(err)}
		status = httpStatus(d.Code)
	}
	switch {
	case status >= 500 && status != http.StatusServiceUnavailable && status != http.StatusNotImplemented:
		s.log.Error("API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		d.Code, d.Message = ocppd.EINTERNAL, "internal error"
	case status == http.StatusServiceUnavailable:
		s.log.Warn("API request failed: unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
	case status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="ocppd"`)
	}
	writeJSON(w, status, errorBody{Error: d})
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// maxBody bounds a JSON request body.
const maxBody = 1 << 20

// decode reads the JSON request body into v, refusing unknown members,
// trailing data and bodies over maxBody, with errors naming the field.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") &&
		!strings.HasPrefix(ct, "application/merge-patch+json") {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: ocppd.EINVALID, Field: "Content-Type",
			Message: fmt.Sprintf("expected application/json, not %q", ct)}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return invalid("", "the request body holds more than one JSON value")
	}
	return nil
}

// decodeError turns an encoding/json error into an EINVALID error naming
// the field where it can.
func decodeError(err error) error {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
		me *http.MaxBytesError
	)
	switch {
	case errors.As(err, &me):
		return &Error{Code: "too_large", Message: fmt.Sprintf("the request body is larger than %d bytes", me.Limit)}
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		if se == nil {
			return invalid("", "the request body is truncated JSON")
		}
		return invalid("", "the request body is not valid JSON (at byte %d)", se.Offset)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		return invalid(field, "expected %s, got JSON %s", te.Type, te.Value)
	case errors.Is(err, io.EOF):
		return invalid("", "the request body is empty; expected a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid(f, "unknown field %q", f)
	}
	return invalid("", "the request body is not valid: %v", err)
}
