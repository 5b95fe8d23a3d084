package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// MaxBodyBytes is the contract's request body limit (SPEC §3).
const MaxBodyBytes = 64 << 10

// decodeJSON reads one JSON value into v. A Content-Type other than
// application/json (parameters such as charset allowed), or none, is
// VALIDATION_ERROR (SPEC §3): text/plain and the form types are what a web
// page may post cross-site without a CORS preflight. Malformed JSON, wrong
// types and trailing data are VALIDATION_ERROR; an oversized body is
// PAYLOAD_TOO_LARGE. Unknown fields are ignored on purpose: the published
// app may add fields, and refusing them would break sign-in.
func decodeJSON(r *http.Request, v any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return mobileauth.Errorf(mobileauth.CodeValidation, "Request body must be JSON (Content-Type: application/json)")
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		if !tooLarge(err) && overLimit(r) {
			return decodeError(errTooLarge)
		}
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if tooLarge(err) || overLimit(r) {
			return decodeError(errTooLarge)
		}
		return mobileauth.Errorf(mobileauth.CodeValidation, "Request body must contain a single JSON object")
	}
	return nil
}

// errTooLarge stands for the body limit in decodeError.
var errTooLarge = &http.MaxBytesError{Limit: MaxBodyBytes}

// overLimit reads what is left of a body the decoder refused (at most
// MaxBodyBytes more) and reports whether the whole exceeds the limit. A
// body over the limit is then refused as such whatever its content, so a
// chunked body gets the same answer as one with a Content-Length (which
// limitBody refuses before any decoding).
func overLimit(r *http.Request) bool {
	_, err := io.Copy(io.Discard, io.LimitReader(r.Body, MaxBodyBytes+1))
	return tooLarge(err)
}

func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	switch {
	case tooLarge(err):
		return &mobileauth.Error{Code: mobileauth.CodePayloadTooLarge, Message: fmt.Sprintf("Request body must be at most %d bytes", MaxBodyBytes)}
	case errors.Is(err, io.EOF):
		return mobileauth.Errorf(mobileauth.CodeValidation, "Request body is empty; a JSON object is required")
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return &mobileauth.Error{Code: mobileauth.CodeValidation, Message: fmt.Sprintf("Field %q has the wrong type", typeErr.Field),
				Details: map[string]string{"field": typeErr.Field}}
		}
		return mobileauth.Errorf(mobileauth.CodeValidation, "Request body must be a JSON object")
	}
	return mobileauth.Errorf(mobileauth.CodeValidation, "Request body is not valid JSON")
}
