package api

import "net/http"

// registerRoutes registers every API operation. The OpenAPI document
// (openapi.yaml) describes exactly these; TestOpenAPIMatchesRoutes holds
// the two together.
func (s *Server) registerRoutes() {
	s.handle(http.MethodGet, "/openapi.json", s.getOpenAPI)
	s.handle(http.MethodGet, "/system", s.getSystem)
	s.handle(http.MethodGet, "/events", s.events)

	s.handle(http.MethodGet, "/chargepoints", s.listChargePoints)
	s.handle(http.MethodPost, "/chargepoints", s.createChargePoint)
	s.handle(http.MethodGet, "/chargepoints/{cp}", s.getChargePoint)
	s.handle(http.MethodPatch, "/chargepoints/{cp}", s.updateChargePoint)
	s.handle(http.MethodDelete, "/chargepoints/{cp}", s.deleteChargePoint)
	s.handle(http.MethodGet, "/chargepoints/{cp}/status", s.getStatus)
	s.handle(http.MethodGet, "/chargepoints/{cp}/connectors", s.getConnectors)
	s.handle(http.MethodGet, "/chargepoints/{cp}/shadow", s.getShadow)
	s.handle(http.MethodPatch, "/chargepoints/{cp}/shadow", s.updateShadow)
	s.handle(http.MethodGet, "/chargepoints/{cp}/messages", s.getMessages)
	s.handle(http.MethodPut, "/chargepoints/{cp}/password", s.putPassword)
	s.handle(http.MethodDelete, "/chargepoints/{cp}/password", s.deletePassword)
	s.handle(http.MethodPost, "/chargepoints/{cp}/password/rotate", s.rotatePassword) // security.go
	s.handle(http.MethodGet, "/chargepoints/{cp}/security", s.getSecurity)
	s.handle(http.MethodPatch, "/chargepoints/{cp}/security", s.patchSecurity)
	s.handle(http.MethodGet, "/chargepoints/{cp}/certificates", s.getCertificates)
	s.handle(http.MethodGet, "/chargepoints/{cp}/authorization", s.getAuthorization)       // authorization.go
	s.handle(http.MethodGet, "/chargepoints/{cp}/chargingprofiles", s.getChargingProfiles) // chargingprofiles.go
	s.handle(http.MethodGet, "/chargepoints/{cp}/transactions/{tx}", s.getTransaction)
	s.handle(http.MethodGet, "/chargepoints/{cp}/metervalues", s.getMeterValues)
	s.handle(http.MethodPost, "/chargepoints/{cp}/commands", s.createCommand)

	s.handle(http.MethodGet, "/commands", s.listCommands)
	s.handle(http.MethodGet, "/commands/{id}", s.getCommand)

	s.handle(http.MethodGet, "/transactions", s.listTransactions)
	s.handle(http.MethodGet, "/reservations", s.listReservations) // reservations.go

	s.handle(http.MethodGet, "/idtokens", s.listIDTokens)
	s.handle(http.MethodGet, "/idtokens/{token}", s.getIDToken)
	s.handle(http.MethodPut, "/idtokens/{token}", s.putIDToken)
	s.handle(http.MethodDelete, "/idtokens/{token}", s.deleteIDToken)

	s.handle(http.MethodGet, "/rules", s.listRules)
	s.handle(http.MethodPost, "/rules", s.createRule)
	s.handle(http.MethodGet, "/rules/{name}", s.getRule)
	s.handle(http.MethodPut, "/rules/{name}", s.updateRule)
	s.handle(http.MethodPatch, "/rules/{name}", s.patchRule)
	s.handle(http.MethodDelete, "/rules/{name}", s.deleteRule)
	s.handle(http.MethodGet, "/tables", s.listTables)
	s.handle(http.MethodGet, "/tables/{table}/rows", s.listTableRows)
	s.handle(http.MethodGet, "/tables/{table}/rows/{key}", s.getTableRow)

	s.handle(http.MethodGet, "/firmware", s.listFirmware) // firmware.go
	s.handle(http.MethodPost, "/firmware", s.uploadFirmware)
	s.handle(http.MethodGet, "/firmware/{id}", s.getFirmware)
	s.handle(http.MethodPost, "/firmware/{id}/rollouts", s.createRollout)
	s.handle(http.MethodGet, "/firmware/rollouts", s.listRollouts)
	s.handle(http.MethodGet, "/firmware/rollouts/{id}", s.getRollout)
}
