package mobileauth

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
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
	// ErrUnavailable: a dependency (the database, Redis) cannot be reached
	// right now; the same request may succeed later.
	ErrUnavailable = errors.New("dependency unavailable")
)

// Unavailable reports whether err says that a dependency could not be
// reached or used (refused or dropped connection, a database shutting
// down or starting up, or refusing the service's login), as opposed to a bug or a bad request: such a failure is
// SERVICE_UNAVAILABLE, retryable, not INTERNAL_ERROR. It knows the drivers
// only through the standard library (net.Error, driver.ErrBadConn, and the
// SQLState method PostgreSQL errors have).
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	for _, target := range []error{ErrUnavailable, driver.ErrBadConn, sql.ErrConnDone, io.ErrUnexpectedEOF,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE} {
		if errors.Is(err, target) {
			return true
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		// Class 08: connection exception; 57P01–57P03: the server is
		// shutting down, crashed, or not yet accepting connections; 53300:
		// every connection slot is taken (a busy server frees them soon);
		// 28P01 and 28000: the server refused the login (a wrong password,
		// a role that does not exist, pg_hba.conf), which only a connection
		// attempt can meet: the database cannot be used, as when it is
		// down, so every lookup answers the same retryable 503 that
		// /verify and /readyz answer, not a 500 (check names the cause).
		c := pg.SQLState()
		switch c {
		case "57P01", "57P02", "57P03", "53300", "28P01", "28000":
			return true
		}
		return strings.HasPrefix(c, "08")
	}
	return false
}
