package message_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/message"
	"github.com/ocppd/ocppd/ocpp/v16"
	"github.com/ocppd/ocppd/ocpp/v201"
)

type warning struct{ path, msg string }

func TestLenientMode(t *testing.T) {
	payload := []byte(`{"connectorId":1,"transactionId":7,"meterValue":[{"timestamp":"2025-01-31T13:45:00Z","sampledValue":[{"value":"1","unit":"kwh","vendorField":{"x":[1,2]}}]}],"extra":true}`)

	// Strict (the default): the first deviation is an error naming it.
	_, err := message.DecodeRequest(ocpp.V16, "MeterValues", payload, ocpp.DecodeOptions{})
	var ve *ocpp.ValidationError
	if !errors.As(err, &ve) || ve.Path != "meterValue[0].sampledValue[0].unit" || ve.Code(ocpp.V16) != "PropertyConstraintViolation" {
		t.Fatalf("strict: %v", err)
	}

	// Lenient: accepted, one warning per leniency used.
	var warns []warning
	opts := ocpp.DecodeOptions{Lenient: true, Warn: func(path, msg string) { warns = append(warns, warning{path, msg}) }}
	msg, err := message.DecodeRequest(ocpp.V16, "MeterValues", payload, opts)
	if err != nil {
		t.Fatalf("lenient: %v", err)
	}
	mv := msg.(*v16.MeterValuesRequest)
	if got := mv.MeterValue[0].SampledValue[0].Unit; got != "kwh" {
		t.Errorf("unknown enum value kept as %q", got)
	}
	wantPaths := []string{"meterValue[0].sampledValue[0].unit", "meterValue[0].sampledValue[0].vendorField", "extra"}
	var gotPaths []string
	for _, w := range warns {
		gotPaths = append(gotPaths, w.path)
	}
	if !reflect.DeepEqual(gotPaths, wantPaths) {
		t.Errorf("warnings at %v, want %v (%v)", gotPaths, wantPaths, warns)
	}
	// The unknown property is dropped: the message encodes per the schema
	// but for the tolerated enum value.
	enc, _ := message.Encode(mv)
	if want := `{"connectorId":1,"transactionId":7,"meterValue":[{"timestamp":"2025-01-31T13:45:00Z","sampledValue":[{"value":"1","unit":"kwh"}]}]}`; string(enc) != want {
		t.Errorf("encoded %s", enc)
	}

	// Leniency covers only enums and extra properties; other rules hold.
	for _, tc := range []struct{ payload, path, code string }{
		{`{"reason":"PowerUp","chargingStation":{"model":"M"}}`, "chargingStation.vendorName", "OccurrenceConstraintViolation"},
		{`{"reason":"Cosmic","chargingStation":{"model":"a model name over 20 chars","vendorName":"V"}}`, "chargingStation.model", "PropertyConstraintViolation"},
		{`{"reason":"PowerUp","chargingStation":{"model":"M","vendorName":5}}`, "chargingStation.vendorName", "TypeConstraintViolation"},
	} {
		_, err := message.DecodeRequest(ocpp.V201, "BootNotification", []byte(tc.payload), ocpp.DecodeOptions{Lenient: true})
		if !errors.As(err, &ve) || ve.Path != tc.path || ve.Code(ocpp.V201) != tc.code {
			t.Errorf("lenient %s: %v, want %s at %s", tc.payload, err, tc.code, tc.path)
		}
	}
	// Without a Warn function leniency is silent.
	if _, err := message.DecodeRequest(ocpp.V201, "BootNotification", []byte(`{"reason":"Cosmic","chargingStation":{"model":"M","vendorName":"V","x":1}}`), ocpp.DecodeOptions{Lenient: true}); err != nil {
		t.Errorf("lenient without Warn: %v", err)
	}
}

func TestValidateOutbound(t *testing.T) {
	ok := &v201.BootNotificationResponse{CurrentTime: mustTime("2025-01-31T13:45:00Z"), Interval: 300, Status: v201.RegistrationStatusEnumTypeAccepted}
	if err := message.Validate(ocpp.V201, ok); err != nil {
		t.Fatalf("valid response: %v", err)
	}
	if err := message.Validate(ocpp.V201, *ok); err != nil {
		t.Fatalf("valid response by value: %v", err)
	}
	enc, err := message.Encode(ok)
	if err != nil || string(enc) != `{"currentTime":"2025-01-31T13:45:00Z","interval":300,"status":"Accepted"}` {
		t.Errorf("Encode = %s, %v", enc, err)
	}
	for _, tc := range []struct {
		msg  any
		path string
		code string
	}{
		{&v201.BootNotificationResponse{CurrentTime: mustTime("2025-01-31T13:45:00Z"), Interval: 300}, "status", "OccurrenceConstraintViolation"},
		{&v201.BootNotificationResponse{CurrentTime: mustTime("2025-01-31T13:45:00Z"), Status: "Maybe"}, "status", "PropertyConstraintViolation"},
		{&v201.BootNotificationResponse{Status: v201.RegistrationStatusEnumTypeAccepted}, "currentTime", "OccurrenceConstraintViolation"},
		{&v201.BootNotificationResponse{CurrentTime: mustTime("2025-01-31T13:45:00Z"), Status: v201.RegistrationStatusEnumTypeAccepted,
			StatusInfo: &v201.StatusInfoType{ReasonCode: "a reason code longer than twenty"}}, "statusInfo.reasonCode", "PropertyConstraintViolation"},
	} {
		err := message.Validate(ocpp.V201, tc.msg)
		var ve *ocpp.ValidationError
		if !errors.As(err, &ve) || ve.Path != tc.path || ve.Code(ocpp.V201) != tc.code {
			t.Errorf("%T: %v, want %s at %s", tc.msg, err, tc.code, tc.path)
		}
	}
	// A required string may be empty (the schema sets no minLength).
	if err := message.Validate(ocpp.V201, &v201.TransactionEventResponse{UpdatedPersonalMessage: &v201.MessageContentType{Format: v201.MessageFormatEnumTypeUTF8}}); err != nil {
		t.Errorf("empty required content: %v", err)
	}
	if err := message.Validate(ocpp.V16, ok); err == nil {
		t.Error("a 2.0.1 message validated as 1.6")
	}
}
