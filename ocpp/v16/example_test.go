package v16_test

import (
	"fmt"

	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/ocpp/v16"
)

func Example() {
	payload := []byte(`{"connectorId":1,"errorCode":"NoError","status":"Charging"}`)
	msg, err := v16.DecodeRequest("StatusNotification", payload, ocpp.DecodeOptions{})
	if err != nil {
		panic(err)
	}
	sn := msg.(*v16.StatusNotificationRequest)
	fmt.Println(sn.ConnectorID, sn.Status == v16.ChargePointStatusCharging)

	_, err = v16.DecodeRequest("StatusNotification", []byte(`{"connectorId":1,"errorCode":"NoError"}`), ocpp.DecodeOptions{})
	fmt.Println(err.(*ocpp.ValidationError).Code(ocpp.V16), err)
	// Output:
	// 1 true
	// OccurenceConstraintViolation status: required property is missing
}
