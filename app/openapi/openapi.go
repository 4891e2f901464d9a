package openapi

import (
	_ "embed"
	"net/http"
)

// Path is where the node's REST server serves the document.
const Path = "/buildchain/openapi.json"

//go:embed openapi.json
var document []byte

// Document returns the OpenAPI document (JSON).
func Document() []byte { return document }

// Handler serves the document.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(document)
	})
}
