#!/usr/bin/env bash
# Regenerates the Go code of proto/buildchain offline: tools come from `go install` at pinned
# versions, third-party protos from the Go module cache (scripts/protocopy.sh).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

BUF_VERSION=v1.75.0
GOCOSMOS_VERSION=v1.7.2
GATEWAY_VERSION=v1.16.0

gobin="$(go env GOPATH)/bin"
export PATH="$gobin:$PATH"

have() { # have BINARY VERSION-SUBSTRING
	command -v "$1" >/dev/null 2>&1 || return 1
	[ -z "${2:-}" ] && return 0
	go version -m "$(command -v "$1")" 2>/dev/null | grep -q -- "$2"
}
have buf "$BUF_VERSION" || go install "github.com/bufbuild/buf/cmd/buf@$BUF_VERSION"
have protoc-gen-gocosmos "$GOCOSMOS_VERSION" || go install "github.com/cosmos/gogoproto/protoc-gen-gocosmos@$GOCOSMOS_VERSION"
have protoc-gen-grpc-gateway "$GATEWAY_VERSION" || go install "github.com/grpc-ecosystem/grpc-gateway/protoc-gen-grpc-gateway@$GATEWAY_VERSION"
have protoc-gen-swagger "$GATEWAY_VERSION" || go install "github.com/grpc-ecosystem/grpc-gateway/protoc-gen-swagger@$GATEWAY_VERSION"

scripts/protocopy.sh

rm -rf .gen
buf generate --template buf.gen.gogo.yaml --path proto/buildchain
# The generators write by Go import path; move our files into the module tree.
mod="github.com/buildchain/buildchain"
if [ -d ".gen/$mod" ]; then
	cp -r ".gen/$mod/." ./
fi
rm -rf .gen

# One merged OpenAPI document of buildchain's REST routes, embedded in and served by the node.
rm -rf .gen-openapi
buf generate --template buf.gen.swagger.yaml --path proto/buildchain
jq '.info = {"title": "buildchain REST API", "description": "REST (grpc-gateway) routes of the buildchain modules. The Cosmos SDK modules are documented at /swagger/.", "version": "v1"}' \
	.gen-openapi/buildchain.swagger.json >app/openapi/openapi.json
rm -rf .gen-openapi
echo "protocgen: done"
