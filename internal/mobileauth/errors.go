package mobileauth

import (
	"errors"
	"fmt"
)

// Code is one of the contract's error codes (SPEC §3). The HTTP layer maps
// each code to exactly one status.
type Code string

// The contract's error codes. The mobile app parses these; never rename them.
const (
	CodeValidation         Code = "VALIDATION_ERROR"
	CodeUnauthorized       Code = "UNAUTHORIZED"
	CodeForbidden          Code = "FORBIDDEN"
	CodeNotFound           Code = "NOT_FOUND"
	CodeMethodNotAllowed   Code = "METHOD_NOT_ALLOWED"
	CodePayloadTooLarge    Code = "PAYLOAD_TOO_LARGE"
	CodeRateLimited        Code = "RATE_LIMITED"
	CodeInternal           Code = "INTERNAL_ERROR"
	CodeNotImplemented     Code = "NOT_IMPLEMENTED"
	CodeServiceUnavailable Code = "SERVICE_UNAVAILABLE"
)

// Error is an error the client may see: a code, a human message safe to show,
// optional structured details, and an optional cause that is only logged.
type Error struct {
	Code    Code
	Message string
	Details any
	Cause   error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap exposes the logged cause to errors.Is / errors.As.
func (e *Error) Unwrap() error { return e.Cause }

// Errorf builds an *Error with a client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError builds an *Error whose cause is logged but never shown.
func WrapError(code Code, message string, cause error) *Error {
	return &Error{Code: code, Message: message, Cause: cause}
}

// ErrorCode returns the contract code of err, or CodeInternal when err
// carries none: an uncoded error is always an internal error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Sentinels returned by stores; the use-case layer decides what they mean
// to a client (an unknown OTT is UNAUTHORIZED, not NOT_FOUND).
var (
	// ErrNotFound: no such record (or it no longer qualifies: consumed, expired).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a uniqueness rule was violated.
	ErrConflict = errors.New("conflict")
	// ErrStoreLocked: another process owns the embedded database.
	ErrStoreLocked = errors.New("store locked by another process")
)
