package ocppjson

import (
	"encoding/json"
	"math"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ocppd/ocppd/ocpp"
)

func digits2(b []byte) (int, bool) {
	if b[0] < '0' || b[0] > '9' || b[1] < '0' || b[1] > '9' {
		return 0, false
	}
	return int(b[0]-'0')*10 + int(b[1]-'0'), true
}

// ParseTime parses an RFC 3339 date-time (what JSON Schema's "date-time"
// format accepts: a 'T' or 't' separator, optional fractional seconds, a
// 'Z', 'z' or ±hh:mm offset, a leap second only at 23:59 UTC) and returns
// it in UTC. On failure it returns a message saying what is wrong.
func ParseTime(b []byte) (time.Time, string) {
	const bad = "must be an RFC 3339 date-time such as 2025-01-31T13:45:00Z"
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, bad
	}
	y1, ok1 := digits2(b[0:2])
	y2, ok2 := digits2(b[2:4])
	mo, ok3 := digits2(b[5:7])
	dd, ok4 := digits2(b[8:10])
	hh, ok5 := digits2(b[11:13])
	mi, ok6 := digits2(b[14:16])
	ss, ok7 := digits2(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return time.Time{}, bad
	}
	year := y1*100 + y2
	if mo < 1 || mo > 12 || dd < 1 || dd > daysIn(year, mo) || hh > 23 || mi > 59 || ss > 60 {
		return time.Time{}, "date-time out of range"
	}
	rest := b[19:]
	nsec := 0
	if rest[0] == '.' {
		i := 1
		scale := 100000000
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			nsec += int(rest[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == 1 {
			return time.Time{}, bad
		}
		rest = rest[i:]
	}
	offset := 0
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digits2(rest[1:3])
		om, ok2 := digits2(rest[4:6])
		if !ok1 || !ok2 {
			return time.Time{}, bad
		}
		if oh > 23 || om > 59 {
			return time.Time{}, "date-time offset out of range"
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, bad
	}
	if ss == 60 {
		m := (hh*60 + mi - offset/60) % (24 * 60)
		if m < 0 {
			m += 24 * 60
		}
		if m != 23*60+59 {
			return time.Time{}, "invalid leap second"
		}
	}
	t := time.Date(year, time.Month(mo), dd, hh, mi, ss, nsec, time.UTC)
	if offset != 0 {
		t = t.Add(-time.Duration(offset) * time.Second)
		if y := t.Year(); y < 0 || y > 9999 {
			// In UTC the instant falls outside the years RFC 3339 can
			// write; refused although the schema's pattern allows it.
			return time.Time{}, "date-time out of range in UTC"
		}
	}
	return t, ""
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// CheckURI returns "" when s is an absolute URI (JSON Schema format "uri")
// and a message otherwise.
func CheckURI(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "must be an absolute URI"
	}
	if h := u.Hostname(); strings.Contains(h, ":") && !strings.Contains(u.Host, "[") {
		return "must be an absolute URI"
	}
	if !u.IsAbs() {
		return "must be an absolute URI"
	}
	return ""
}

// MultipleOf reports whether f is a multiple of m, computed exactly on the
// shortest decimal form of f as JSON Schema does.
func MultipleOf(f, m float64) bool {
	var x, y big.Rat
	if _, ok := x.SetString(strconv.FormatFloat(f, 'g', -1, 64)); !ok {
		return false
	}
	if _, ok := y.SetString(strconv.FormatFloat(m, 'g', -1, 64)); !ok || y.Sign() == 0 {
		return false
	}
	x.Quo(&x, &y)
	return x.IsInt()
}

// Errors for the generated outbound validators. They build the path as
// the error travels up: In and InIndex prefix it.

// Errf returns a validation error at field.
func Errf(kind ocpp.ErrorKind, field, msg string) error {
	return &ocpp.ValidationError{Kind: kind, Path: field, Message: msg}
}

// In prefixes the path of a validation error with the property name.
func In(err error, name string) error {
	if ve, ok := err.(*ocpp.ValidationError); ok {
		if ve.Path == "" {
			ve.Path = name
		} else if ve.Path[0] == '[' {
			ve.Path = name + ve.Path
		} else {
			ve.Path = name + "." + ve.Path
		}
	}
	return err
}

// InIndex prefixes the path of a validation error with name[i].
func InIndex(err error, name string, i int) error {
	if ve, ok := err.(*ocpp.ValidationError); ok {
		p := name + "[" + strconv.Itoa(i) + "]"
		if ve.Path == "" {
			ve.Path = p
		} else if ve.Path[0] == '[' {
			ve.Path = p + ve.Path
		} else {
			ve.Path = p + "." + ve.Path
		}
	}
	return err
}

// CheckString validates a string's length (maxLen 0: no limit).
func CheckString(field, s string, maxLen int) error {
	if maxLen > 0 && len(s) > maxLen && utf8.RuneCountInString(s) > maxLen {
		return Errf(ocpp.ErrPropertyConstraint, field, "longer than "+strconv.Itoa(maxLen)+" characters")
	}
	return nil
}

// CheckNumber validates that f is a finite number.
func CheckNumber(field string, f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Errf(ocpp.ErrPropertyConstraint, field, "must be a finite number")
	}
	return nil
}

// CheckRaw validates that an untyped value is one well-formed JSON value.
func CheckRaw(field string, r json.RawMessage, required bool) error {
	if len(r) == 0 {
		if required {
			return Errf(ocpp.ErrOccurrenceConstraint, field, "required property is missing")
		}
		return nil
	}
	if !json.Valid(r) {
		return Errf(ocpp.ErrFormat, field, "is not valid JSON")
	}
	return nil
}

// Below is reports a value under its minimum.
func Below(field string, min int64) error {
	return Errf(ocpp.ErrPropertyConstraint, field, "must be at least "+strconv.FormatInt(min, 10))
}

// Above reports a value over its maximum.
func Above(field string, max int64) error {
	return Errf(ocpp.ErrPropertyConstraint, field, "must be at most "+strconv.FormatInt(max, 10))
}

// Items reports an array whose length is out of bounds.
func Items(field string, n, min, max int) error {
	msg := "has " + strconv.Itoa(n) + " items; "
	if n < min {
		msg += "at least " + strconv.Itoa(min) + " required"
	} else {
		msg += "at most " + strconv.Itoa(max) + " allowed"
	}
	return Errf(ocpp.ErrOccurrenceConstraint, field, msg)
}

// BadEnum reports an enum value outside its list (or an empty required one).
func BadEnum(field, v string) error {
	if v == "" {
		return Errf(ocpp.ErrOccurrenceConstraint, field, "required property is missing")
	}
	return Errf(ocpp.ErrPropertyConstraint, field, "value "+quoteShort([]byte(v))+" is not allowed")
}

// Missing reports a required value that is absent (nil, zero time).
func Missing(field string) error {
	return Errf(ocpp.ErrOccurrenceConstraint, field, "required property is missing")
}

// CheckTime validates that t can be written as an RFC 3339 date-time
// (years 0000 to 9999).
func CheckTime(field string, t time.Time) error {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return Errf(ocpp.ErrPropertyConstraint, field, "year out of the range 0000-9999")
	}
	return nil
}
