// Package api embeds the OpenAPI description of the service, so tests can
// hold the router and the contract in agreement.
package api

import _ "embed"

// OpenAPI is api/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
