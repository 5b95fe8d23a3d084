// Package mobileauth holds the domain of alga-mobile-auth: users, tenants,
// tiers, one-time tokens, refresh-token families, web sessions, audit events,
// the contract's error type, and the small store interfaces the use cases
// need. It imports only the standard library, so every other package can
// depend on it.
package mobileauth
