// Package openapi embeds the OpenAPI (swagger 2.0) document of buildchain's own REST routes,
// generated from proto/buildchain by scripts/protocgen.sh, and serves it. The SDK modules'
// document stays at /swagger/.
package openapi
