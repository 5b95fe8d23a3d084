package authflow

import (
	"context"
	"errors"
	"strings"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// Principal is who a valid access token speaks for.
type Principal struct {
	UserID, TenantID, Email, SessionID string
}

// ErrNoToken: the request presented no access token at all (RFC 6750
// §3.1 then wants a bare "Bearer" challenge, without error=).
var ErrNoToken = errors.New("no access token presented")

// Verify checks an access token as its kind requires (a JWT's signature,
// type, issuer, audience and expiry; an API key's row in AlgaPSA's
// database), then that its family has not been revoked and
// exists with the token's tenant and subject as owner. The
// revocation view is at most RevocationFreshness (1 s) stale across
// replicas and immediate on the replica that revoked.
func (s *Service) Verify(ctx context.Context, raw string) (Principal, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Principal{}, mobileauth.WrapError(mobileauth.CodeUnauthorized, "Authentication required", ErrNoToken)
	}
	p, err := s.access.Check(ctx, raw)
	if errors.Is(err, ErrInvalidAccess) {
		return Principal{}, unauthorized(err)
	}
	if err != nil {
		return Principal{}, mobileauth.WrapError(mobileauth.CodeServiceUnavailable, "Token verification is temporarily unavailable", err)
	}
	revoked, err := s.revoked.isRevoked(ctx, p.SessionID)
	if err != nil {
		return Principal{}, mobileauth.WrapError(mobileauth.CodeServiceUnavailable, "Token verification is temporarily unavailable", err)
	}
	if revoked {
		return Principal{}, unauthorized(errors.New("token family revoked"))
	}
	if err := s.families.check(ctx, p.SessionID, p.TenantID, p.UserID); errors.Is(err, errUnknownFamily) {
		return Principal{}, unauthorized(err)
	} else if err != nil {
		return Principal{}, mobileauth.WrapError(mobileauth.CodeServiceUnavailable, "Token verification is temporarily unavailable", err)
	}
	return p, nil
}
