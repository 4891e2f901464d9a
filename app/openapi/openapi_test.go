package openapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
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

// The embedded document must cover every REST route declared in proto/buildchain: a proto
// change without `make proto-gen` would otherwise serve a stale document.
func TestDocumentCoversEveryProtoRoute(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openapi.Document(), &doc))

	route := regexp.MustCompile(`\(google\.api\.http\)\.(get|post)\s*=\s*"([^"]+)"`)
	files, err := filepath.Glob("../../proto/buildchain/*/v1/*.proto")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	n := 0
	for _, f := range files {
		bz, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range route.FindAllStringSubmatch(string(bz), -1) {
			n++
			ops, ok := doc.Paths[m[2]]
			require.True(t, ok, "%s declares %s, missing from openapi.json: run make proto-gen", f, m[2])
			require.Contains(t, ops, m[1], "%s %s", m[1], m[2])
		}
	}
	require.GreaterOrEqual(t, n, 4)
}
