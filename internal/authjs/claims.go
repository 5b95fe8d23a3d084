package authjs

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// claimSet is the decrypted payload. It is read key by key, with the exact
// (case-sensitive) names JavaScript sees; encoding/json's struct decoding
// would also match "Tenant" or "ID".
type claimSet map[string]any

// session checks the claims at now and returns the session. Time checks
// follow jose's jwtDecrypt as Auth.js calls it (15 s tolerance, numeric
// dates, `exp` expired when exp <= now - tolerance); the identity checks
// follow AlgaPSA's jwt callback, which fails a session closed unless tenant,
// session_id and the user id are non-empty strings and user_type is internal
// or client.
func (c claimSet) session(now time.Time) (Session, error) {
	nowSec := float64(now.Unix())
	leeway := Leeway.Seconds()
	iat, hasIat, err := c.numericDate("iat")
	if err != nil {
		return Session{}, err
	}
	nbf, hasNbf, err := c.numericDate("nbf")
	if err != nil {
		return Session{}, err
	}
	if hasNbf && nbf > nowSec+leeway {
		return Session{}, ErrNotYetValid
	}
	// Auth.js' decode accepts a token without exp; its encode always writes
	// one, and a session that never expires is not one we take.
	exp, hasExp, err := c.numericDate("exp")
	if err != nil {
		return Session{}, err
	}
	if !hasExp {
		return Session{}, fmt.Errorf("%w: no exp", ErrClaims)
	}
	if exp <= nowSec-leeway {
		return Session{}, ErrExpired
	}

	// AlgaPSA reads the user id as `token.id || token.sub`.
	userKey := "sub"
	if truthy(c["id"]) {
		userKey = "id"
	}
	s := Session{
		Email:     c.optionalString("email"),
		Name:      c.optionalString("name"),
		ExpiresAt: unixTime(exp),
	}
	if hasIat {
		s.IssuedAt = unixTime(iat)
	}
	for _, r := range []struct {
		key string
		dst *string
	}{{userKey, &s.UserID}, {"tenant", &s.Tenant}, {"session_id", &s.SessionID}, {"user_type", &s.UserType}} {
		v, ok := c[r.key].(string)
		if !ok || v == "" {
			return Session{}, fmt.Errorf("%w: %s missing or not a string", ErrClaims, r.key)
		}
		*r.dst = v
	}
	if s.UserType != "internal" && s.UserType != "client" {
		return Session{}, fmt.Errorf("%w: user_type neither internal nor client", ErrClaims)
	}
	return s, nil
}

// numericDate reads a NumericDate claim: absent is allowed, anything present
// must be a JSON number (jose refuses null or a string there too).
func (c claimSet) numericDate(key string) (float64, bool, error) {
	v, present := c[key]
	if !present {
		return 0, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, false, fmt.Errorf("%w: %s is not a number", ErrClaims, key)
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false, fmt.Errorf("%w: %s is not a finite number", ErrClaims, key)
	}
	return f, true, nil
}

// optionalString returns a display claim, or "" when it is absent, null or
// not a string (AlgaPSA falls back to an empty string the same way).
func (c claimSet) optionalString(key string) string {
	s, _ := c[key].(string)
	return s
}

// truthy is JavaScript's truthiness for a decoded JSON value.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case json.Number:
		f, err := x.Float64()
		return err != nil || f != 0
	default: // objects and arrays, even empty ones
		return true
	}
}

// maxUnix is the last second of year 9999: later dates are clamped, so a
// far-future exp cannot overflow time arithmetic downstream.
const maxUnix = 253402300799

// unixTime converts a NumericDate (seconds, possibly fractional) to a time.
func unixTime(f float64) time.Time {
	f = math.Max(0, math.Min(f, maxUnix))
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}
