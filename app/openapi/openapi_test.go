package openapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/app/openapi"
)

func TestDocumentListsEveryModuleParamsRoute(t *testing.T) {
	var doc struct {
		Swagger string                    `json:"swagger"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openapi.Document(), &doc))
	require.Equal(t, "2.0", doc.Swagger)
	for _, m := range []string{"validators", "claims", "market", "bct"} {
		p := "/buildchain/" + m + "/v1/params"
		require.Contains(t, doc.Paths, p)
		require.Contains(t, doc.Paths[p], "get")
	}
}

func TestHandler(t *testing.T) {
	rec := httptest.NewRecorder()
	openapi.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, openapi.Path, nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.Equal(t, openapi.Document(), rec.Body.Bytes())

	rec = httptest.NewRecorder()
	openapi.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, openapi.Path, nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}
