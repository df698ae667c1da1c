package sim

import (
	"strconv"
	"strings"
	"time"
)

// Mutability of a device model variable.
const (
	readOnly  = "ReadOnly"
	readWrite = "ReadWrite"
	writeOnly = "WriteOnly"
)

// variable is one setting of the station's device model, named both as
// an OCPP 1.6 configuration key (key16) and as an OCPP 2.x component and
// variable; a setting one version lacks has an empty name there.
type variable struct {
	key16      string
	component  string
	evse, conn int // the component's EVSE and connector (0: none)
	name       string
	instance   string
	dataType   string // 2.x DataEnumType: integer, boolean, string, OptionList, MemberList, SequenceList, decimal, dateTime
	mutability string
	unit       string
	value      string
	// get computes a value that reflects the station's state (c.mu
	// held).
	get func() string
	// check validates a new value; nil accepts any of the data type.
	check func(v string) bool
	// reboot: a change takes effect after a reboot (1.6
	// RebootRequired).
	reboot bool
}

// deviceModel is the station's settings.
type deviceModel struct {
	vars []*variable
}

// newDeviceModel builds the model with sensible defaults for c.
func newDeviceModel(c *Charger) *deviceModel {
	co := c.co
	meter := strconv.Itoa(int(co.MeterInterval / time.Second))
	positive := func(v string) bool { n, err := strconv.Atoi(v); return err == nil && n >= 0 }
	m := &deviceModel{}
	add := func(v *variable) {
		if v.dataType == "" {
			v.dataType = "string"
		}
		m.vars = append(m.vars, v)
	}
	measurands := "Energy.Active.Import.Register,Power.Active.Import"
	rows := []*variable{
		{key16: "HeartbeatInterval", component: "OCPPCommCtrlr", name: "HeartbeatInterval", dataType: "integer", mutability: readWrite, unit: "s", value: "300", check: positive},
		{key16: "ConnectionTimeOut", component: "TxCtrlr", name: "EVConnectionTimeOut", dataType: "integer", mutability: readWrite, unit: "s", value: "60", check: positive},
		{key16: "MeterValueSampleInterval", component: "SampledDataCtrlr", name: "TxUpdatedInterval", dataType: "integer", mutability: readWrite, unit: "s", value: meter, check: positive},
		{key16: "ClockAlignedDataInterval", component: "AlignedDataCtrlr", name: "Interval", dataType: "integer", mutability: readWrite, unit: "s", value: "0", check: positive},
		{key16: "MeterValuesSampledData", component: "SampledDataCtrlr", name: "TxUpdatedMeasurands", dataType: "MemberList", mutability: readWrite, value: measurands},
		{key16: "StopTxnSampledData", component: "SampledDataCtrlr", name: "TxEndedMeasurands", dataType: "MemberList", mutability: readWrite, value: "Energy.Active.Import.Register"},
		{key16: "MeterValuesAlignedData", component: "AlignedDataCtrlr", name: "Measurands", dataType: "MemberList", mutability: readWrite, value: "Energy.Active.Import.Register"},
		{key16: "AuthorizeRemoteTxRequests", component: "AuthCtrlr", name: "AuthorizeRemoteStart", dataType: "boolean", mutability: readWrite, value: "false"},
		{key16: "LocalAuthorizeOffline", component: "AuthCtrlr", name: "LocalAuthorizeOffline", dataType: "boolean", mutability: readWrite, value: "true"},
		{key16: "LocalPreAuthorize", component: "AuthCtrlr", name: "LocalPreAuthorize", dataType: "boolean", mutability: readWrite, value: "false"},
		{key16: "AllowOfflineTxForUnknownId", component: "AuthCtrlr", name: "OfflineTxForUnknownIdEnabled", dataType: "boolean", mutability: readWrite, value: "true"},
		{component: "AuthCtrlr", name: "Enabled", dataType: "boolean", mutability: readWrite, value: "true"},
		{key16: "AuthorizationCacheEnabled", component: "AuthCacheCtrlr", name: "Enabled", dataType: "boolean", mutability: readWrite, value: "true"},
		{key16: "LocalAuthListEnabled", component: "LocalAuthListCtrlr", name: "Enabled", dataType: "boolean", mutability: readWrite, value: "true"},
		{key16: "LocalAuthListMaxLength", component: "LocalAuthListCtrlr", name: "Entries", dataType: "integer", mutability: readOnly,
			get: func() string { return strconv.Itoa(len(c.localList)) }},
		{key16: "SendLocalListMaxLength", component: "LocalAuthListCtrlr", name: "ItemsPerMessage", dataType: "integer", mutability: readOnly, value: "100"},
		{key16: "StopTransactionOnInvalidId", component: "TxCtrlr", name: "StopTxOnInvalidId", dataType: "boolean", mutability: readWrite, value: "true"},
		{key16: "StopTransactionOnEVSideDisconnect", component: "TxCtrlr", name: "StopTxOnEVSideDisconnect", dataType: "boolean", mutability: readWrite, value: "true"},
		{key16: "UnlockConnectorOnEVSideDisconnect", dataType: "boolean", mutability: readWrite, value: "true"},
		{component: "TxCtrlr", name: "TxStartPoint", dataType: "MemberList", mutability: readWrite, value: "Authorized,EVConnected"},
		{component: "TxCtrlr", name: "TxStopPoint", dataType: "MemberList", mutability: readWrite, value: "Authorized,EVConnected"},
		{key16: "TransactionMessageAttempts", component: "OCPPCommCtrlr", name: "MessageAttempts", instance: "TransactionEvent", dataType: "integer", mutability: readWrite, value: "3", check: positive},
		{key16: "TransactionMessageRetryInterval", component: "OCPPCommCtrlr", name: "MessageAttemptInterval", instance: "TransactionEvent", dataType: "integer", mutability: readWrite, unit: "s", value: "60", check: positive},
		{key16: "ResetRetries", component: "OCPPCommCtrlr", name: "ResetRetries", dataType: "integer", mutability: readWrite, value: "2", check: positive},
		{component: "OCPPCommCtrlr", name: "MessageTimeout", instance: "Default", dataType: "integer", mutability: readOnly, unit: "s", value: strconv.Itoa(int(c.Station.opts.CallTimeout / time.Second))},
		{component: "OCPPCommCtrlr", name: "OfflineThreshold", dataType: "integer", mutability: readWrite, unit: "s", value: "60", check: positive},
		{key16: "WebSocketPingInterval", component: "OCPPCommCtrlr", name: "WebSocketPingInterval", dataType: "integer", mutability: readWrite, unit: "s", value: "0", check: positive},
		{key16: "NumberOfConnectors", dataType: "integer", mutability: readOnly, value: strconv.Itoa(co.EVSEs * co.Connectors)},
		{key16: "SupportedFeatureProfiles", dataType: "string", mutability: readOnly, value: "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger"},
		{key16: "GetConfigurationMaxKeys", dataType: "integer", mutability: readOnly, value: "100"},
		{key16: "ChargeProfileMaxStackLevel", component: "SmartChargingCtrlr", name: "ProfileStackLevel", dataType: "integer", mutability: readOnly, value: "10"},
		{key16: "ChargingScheduleAllowedChargingRateUnit", component: "SmartChargingCtrlr", name: "RateUnit", dataType: "MemberList", mutability: readOnly, value: "A,W"},
		{key16: "ChargingScheduleMaxPeriods", component: "SmartChargingCtrlr", name: "PeriodsPerSchedule", dataType: "integer", mutability: readOnly, value: "24"},
		{key16: "MaxChargingProfilesInstalled", component: "SmartChargingCtrlr", name: "Entries", instance: "ChargingProfiles", dataType: "integer", mutability: readOnly,
			get: func() string { return strconv.Itoa(len(c.profiles)) }},
		{component: "SmartChargingCtrlr", name: "Enabled", dataType: "boolean", mutability: readWrite, value: "true"},
		{key16: "ReserveConnectorZeroSupported", component: "ReservationCtrlr", name: "NonEvseSpecific", dataType: "boolean", mutability: readOnly, value: "true"},
		{component: "ReservationCtrlr", name: "Enabled", dataType: "boolean", mutability: readWrite, value: "true"},
		// Security (OCPP 1.6 security whitepaper, 2.0.1 A00).
		{key16: "AuthorizationKey", component: "SecurityCtrlr", name: "BasicAuthPassword", dataType: "string", mutability: writeOnly,
			check: func(v string) bool { return len(v) >= 16 && len(v) <= 40 }},
		{key16: "SecurityProfile", component: "SecurityCtrlr", name: "SecurityProfile", dataType: "integer", mutability: readOnly, value: "1"},
		{component: "SecurityCtrlr", name: "Identity", dataType: "string", mutability: readOnly, value: c.Station.opts.ID},
		{component: "SecurityCtrlr", name: "OrganizationName", dataType: "string", mutability: readWrite, value: c.Station.opts.Vendor},
		{key16: "CpoName", dataType: "string", mutability: readWrite, value: c.Station.opts.Vendor},
		{component: "DeviceDataCtrlr", name: "ItemsPerMessage", instance: "GetReport", dataType: "integer", mutability: readOnly, value: "20"},
		{component: "DeviceDataCtrlr", name: "ItemsPerMessage", instance: "GetVariables", dataType: "integer", mutability: readOnly, value: "50"},
		{component: "DeviceDataCtrlr", name: "ItemsPerMessage", instance: "SetVariables", dataType: "integer", mutability: readOnly, value: "50"},
		{component: "DeviceDataCtrlr", name: "BytesPerMessage", instance: "GetReport", dataType: "integer", mutability: readOnly, value: "65000"},
		{component: "ClockCtrlr", name: "DateTime", dataType: "dateTime", mutability: readOnly,
			get: func() string { return c.ts().Format(time.RFC3339) }},
		{component: "ClockCtrlr", name: "TimeSource", dataType: "SequenceList", mutability: readWrite, value: "Heartbeat"},
		{component: "ChargingStation", name: "AvailabilityState", dataType: "OptionList", mutability: readOnly,
			get: func() string { return availability(c.inoperative, false) }},
		{component: "ChargingStation", name: "Available", dataType: "boolean", mutability: readOnly, value: "true"},
		{component: "ChargingStation", name: "Model", dataType: "string", mutability: readOnly, value: c.Station.opts.Model},
		{component: "ChargingStation", name: "VendorName", dataType: "string", mutability: readOnly, value: c.Station.opts.Vendor},
		{component: "ChargingStation", name: "SupplyPhases", dataType: "integer", mutability: readOnly, value: "3"},
	}
	for _, v := range rows {
		add(v)
	}
	for _, row := range c.evses {
		for _, k := range row {
			k := k
			if k.id == 1 {
				add(&variable{component: "EVSE", evse: k.evse, name: "AvailabilityState", dataType: "OptionList", mutability: readOnly,
					get: func() string { return availability(c.inoperative || k.inoperative, k.tx != nil) }})
				add(&variable{component: "EVSE", evse: k.evse, name: "Power", dataType: "decimal", mutability: readOnly, unit: "W",
					value: strconv.FormatFloat(co.PowerW, 'f', -1, 64)})
				add(&variable{component: "EVSE", evse: k.evse, name: "SupplyPhases", dataType: "integer", mutability: readOnly, value: "3"})
			}
			add(&variable{component: "Connector", evse: k.evse, conn: k.id, name: "AvailabilityState", dataType: "OptionList", mutability: readOnly,
				get: func() string { return availability(c.inoperative || k.inoperative, k.tx != nil) }})
			add(&variable{component: "Connector", evse: k.evse, conn: k.id, name: "ConnectorType", dataType: "string", mutability: readOnly, value: "cType2"})
		}
	}
	return m
}

// availability is a 2.x AvailabilityState.
func availability(inoperative, occupied bool) string {
	switch {
	case occupied:
		return "Occupied"
	case inoperative:
		return "Unavailable"
	}
	return "Available"
}

// current returns v's value.
func (v *variable) current() string {
	if v.get != nil {
		return v.get()
	}
	return v.value
}

// by16 finds the variable of a 1.6 key (case-sensitive, as 1.6 keys are).
func (m *deviceModel) by16(key string) *variable {
	for _, v := range m.vars {
		if v.key16 != "" && v.key16 == key {
			return v
		}
	}
	return nil
}

// lookup finds a value by 1.6 key or "Component.Variable".
func (m *deviceModel) lookup(name string) (string, bool) {
	if v := m.by16(name); v != nil {
		return v.current(), true
	}
	comp, vr, ok := strings.Cut(name, ".")
	if !ok {
		return "", false
	}
	for _, v := range m.vars {
		if strings.EqualFold(v.component, comp) && strings.EqualFold(v.name, vr) {
			return v.current(), true
		}
	}
	return "", false
}

// value returns the value of a 1.6 key (every behaviour setting has one).
func (m *deviceModel) value(key16 string) string {
	if v := m.by16(key16); v != nil {
		return v.current()
	}
	return ""
}

// bool returns a boolean setting by its 1.6 key.
func (m *deviceModel) bool(key16 string) bool { return m.value(key16) == "true" }

// setInternal changes a value without the checks (the station's own
// changes, e.g. the heartbeat interval the CSMS returned at boot).
func (m *deviceModel) setInternal(key16, value string) {
	if v := m.by16(key16); v != nil {
		v.value = value
	}
}

// validValue checks value against v's data type and rule.
func (v *variable) validValue(value string) bool {
	switch v.dataType {
	case "integer":
		if _, err := strconv.Atoi(value); err != nil {
			return false
		}
	case "decimal":
		if _, err := strconv.ParseFloat(value, 64); err != nil {
			return false
		}
	case "boolean":
		value = strings.ToLower(value)
		if value != "true" && value != "false" {
			return false
		}
	}
	if v.check != nil {
		return v.check(value)
	}
	return true
}

// normalize returns value as stored (booleans in lower case).
func (v *variable) normalize(value string) string {
	if v.dataType == "boolean" {
		return strings.ToLower(value)
	}
	return value
}

// find2x finds a 2.x component/variable. It returns the variable, or
// whether at least the component exists.
func (m *deviceModel) find2x(comp, compInst string, evse, conn int, name, inst string) (v *variable, compKnown bool) {
	for _, x := range m.vars {
		if x.component == "" || !strings.EqualFold(x.component, comp) || x.evse != evse || x.conn != conn {
			continue
		}
		if compInst != "" {
			continue // no component instances in this model
		}
		compKnown = true
		if strings.EqualFold(x.name, name) && strings.EqualFold(x.instance, inst) {
			return x, true
		}
	}
	return nil, compKnown
}
