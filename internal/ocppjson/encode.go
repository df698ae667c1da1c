package ocppjson

import (
	"math"
	"strconv"
	"time"

	"github.com/ocppd/ocppd/ocpp"
)

// AppendKey appends a property name and colon, preceded by a comma unless
// it is the object's first property.
func AppendKey(b []byte, first bool, name string) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// AppendAnyKey is AppendKey for a name that may need escaping (the
// extension properties of open types).
func AppendAnyKey(b []byte, first bool, name string) []byte {
	if !first {
		b = append(b, ',')
	}
	b = ocpp.AppendString(b, name)
	return append(b, ':')
}

// AppendString appends s as a JSON string.
func AppendString(b []byte, s string) []byte { return ocpp.AppendString(b, s) }

// AppendInt appends an integer.
func AppendInt(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }

// AppendBool appends a boolean.
func AppendBool(b []byte, v bool) []byte { return strconv.AppendBool(b, v) }

// AppendFloat appends a number the way encoding/json does. NaN and
// infinities, which JSON cannot hold, are written as such so that the
// result fails json.Valid rather than silently change value; Validate
// refuses them first.
func AppendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "NaN"...)
	}
	abs := math.Abs(f)
	fmt := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmt = 'e'
	}
	b = strconv.AppendFloat(b, f, fmt, -1, 64)
	if fmt == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// AppendTime appends t as an RFC 3339 date-time in UTC with a 'Z', with
// milliseconds when t has a fraction of a second (OCPP recommends at most
// three decimals).
func AppendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	b = append(b, '"')
	if t.Nanosecond()/1e6 != 0 {
		b = t.AppendFormat(b, "2006-01-02T15:04:05.000Z")
	} else {
		b = t.AppendFormat(b, "2006-01-02T15:04:05Z")
	}
	return append(b, '"')
}
