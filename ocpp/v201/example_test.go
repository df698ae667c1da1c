package v201_test

import (
	"fmt"
	"time"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/v201"
)

func Example() {
	payload := []byte(`{"reason":"PowerUp","chargingStation":{"model":"SingleSocketCharger","vendorName":"VendorX"}}`)
	msg, err := v201.DecodeRequest("BootNotification", payload, ocpp.DecodeOptions{})
	if err != nil {
		panic(err)
	}
	req := msg.(*v201.BootNotificationRequest)
	fmt.Println(req.ChargingStation.VendorName, req.Reason)

	resp := &v201.BootNotificationResponse{
		CurrentTime: time.Date(2025, 1, 31, 14, 45, 0, 0, time.FixedZone("CET", 3600)),
		Interval:    300,
		Status:      v201.RegistrationStatusEnumTypeAccepted,
	}
	if err := v201.Validate(resp); err != nil {
		panic(err)
	}
	out, _ := resp.MarshalJSON()
	fmt.Println(string(out))

	_, err = v201.DecodeRequest("BootNotification", []byte(`{"reason":"PowerUp","chargingStation":{"model":"M"}}`), ocpp.DecodeOptions{})
	ve := err.(*ocpp.ValidationError)
	fmt.Println(ve.Code(ocpp.V201), ve.Error())
	// Output:
	// VendorX PowerUp
	// {"currentTime":"2025-01-31T13:45:00Z","interval":300,"status":"Accepted"}
	// OccurrenceConstraintViolation chargingStation.vendorName: required property is missing
}
