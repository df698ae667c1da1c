package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"

	"gopkg.in/yaml.v3"
)

// openapiYAML is the OpenAPI 3.1 document of the API, written by hand
// (YAML for reading and review) and served as JSON.
//
//go:embed openapi.yaml
var openapiYAML []byte

// openapiJSON is openapiYAML as JSON, converted once.
var openapiJSON = func() []byte {
	b, err := yamlToJSON(openapiYAML)
	if err != nil {
		panic(fmt.Sprintf("api: openapi.yaml: %v", err))
	}
	return b
}()

// OpenAPI returns the OpenAPI document as JSON.
func OpenAPI() []byte { return openapiJSON }

func yamlToJSON(y []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(y, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func (s *Server) getOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openapiJSON)
	return err
}
