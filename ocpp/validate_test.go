package ocpp

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidationErrorDescription(t *testing.T) {
	e := &ValidationError{Kind: ErrPropertyConstraint, Path: "chargingStation.model", Message: "longer than 20 characters"}
	if got := e.Error(); got != "chargingStation.model: longer than 20 characters" {
		t.Errorf("Error() = %q", got)
	}
	if e.Code(V16) != "PropertyConstraintViolation" || e.Code(V201) != "PropertyConstraintViolation" {
		t.Errorf("codes %s %s", e.Code(V16), e.Code(V201))
	}
	occ := &ValidationError{Kind: ErrOccurrenceConstraint}
	if occ.Code(V16) != "OccurenceConstraintViolation" || occ.Code(V21) != "OccurrenceConstraintViolation" {
		t.Errorf("occurrence codes %s %s", occ.Code(V16), occ.Code(V21))
	}
	if (&ValidationError{Message: "payload is not an object"}).Error() != "payload is not an object" {
		t.Error("error without a path")
	}
	// Long paths and messages are cut to 255 characters, keeping the field.
	long := &ValidationError{Path: strings.Repeat("a.", 150) + "field", Message: strings.Repeat("é", 300)}
	got := long.Error()
	if n := utf8.RuneCountInString(got); n > MaxErrorDescriptionLen {
		t.Errorf("%d characters", n)
	}
	if !strings.Contains(got, "a.field: é") {
		t.Errorf("field lost: %q", got)
	}
}

func TestJoinPath(t *testing.T) {
	if JoinPath("", "a") != "a" || JoinPath("a[0]", "b") != "a[0].b" {
		t.Error("JoinPath")
	}
}
