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
}
