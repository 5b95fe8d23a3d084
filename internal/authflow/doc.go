// Package authflow holds the use cases of mobile sign-in: the capabilities
// answer, issuing one-time tokens, the exchange, refresh rotation with
// retry safety and theft detection, revocation and verification. It knows
// no HTTP and no SQL: it talks to the stores through the small interfaces
// of package mobileauth and assigns the contract's error codes.
package authflow
