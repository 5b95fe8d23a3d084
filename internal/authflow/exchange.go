package authflow

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/license"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// ExchangeRequest is SPEC §3.4's body plus the caller's address.
type ExchangeRequest struct {
	OTT          string
	State        string
	CodeVerifier string
	Device       mobileauth.Device
	ClientIP     string
}

// UserInfo is the exchange response's user object.
type UserInfo struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// ExchangeResult is SPEC §3.4's response, field for field.
type ExchangeResult struct {
	AccessToken  string   `json:"accessToken"`
	RefreshToken string   `json:"refreshToken"`
	ExpiresInSec int      `json:"expiresInSec"`
	TenantID     string   `json:"tenantId"`
	User         UserInfo `json:"user"`
}

// Exchange trades a one-time token for access and refresh tokens.
// Order matters: the edition check and the per-IP limit come before the
// lookup (no store work for refused callers); the OTT is consumed before
// any other check, so a wrong state or verifier burns it and cannot be
// retried; the per-user limit and the plan come after the lookup.
func (s *Service) Exchange(ctx context.Context, req ExchangeRequest) (_ ExchangeResult, err error) {
	for _, f := range [][2]string{{"ott", req.OTT}, {"state", req.State}} {
		if err := required(f[0], f[1]); err != nil {
			return ExchangeResult{}, err
		}
	}
	// Community Edition is refused before anything is consumed or counted.
	if d := s.gate.Capabilities(); !d.Enabled && d.Reason == license.DecisionEdition {
		return ExchangeResult{}, gateError(d)
	}
	if err := s.limit(ctx, "exchange-ip:"+rateIP(req.ClientIP), exchangeLimit); err != nil {
		return ExchangeResult{}, err
	}
	now := s.now()
	hash := token.HashOf(req.OTT)
	s.releaseBeforeRetry(ctx, hash, now)
	ott, err := s.st.OTTs.ConsumeOTT(ctx, hash, now)
	if errors.Is(err, mobileauth.ErrNotFound) {
		s.events.AuthEvent("ott_rejected", "unknown_or_used")
		return ExchangeResult{}, unauthorized(err)
	}
	if err != nil {
		if retryable(err) {
			// The consume may have committed with its reply lost; the
			// OTT lived at most OTTTTL from now.
			s.unreleased.add(hash, unreleasedOTT{consumedAt: now, until: now.Add(s.set.OTTTTL)}, now)
		}
		return ExchangeResult{}, fmt.Errorf("consume OTT: %w", err)
	}
	defer func() {
		if err != nil && retryable(err) {
			s.releaseOTT(ctx, ott.Hash, unreleasedOTT{consumedAt: now, until: ott.ExpiresAt})
		}
	}()
	if subtle.ConstantTimeCompare([]byte(ott.State), []byte(req.State)) != 1 {
		s.events.AuthEvent("ott_rejected", "state_mismatch")
		return ExchangeResult{}, unauthorized(errors.New("state mismatch"))
	}
	if ott.CodeChallenge != "" {
		if req.CodeVerifier == "" {
			s.events.AuthEvent("ott_rejected", "pkce_missing")
			return ExchangeResult{}, mobileauth.Errorf(mobileauth.CodeValidation, "code_verifier is required for this token")
		}
		if !token.VerifyPKCE(ott.CodeChallenge, req.CodeVerifier) {
			s.events.AuthEvent("ott_rejected", "pkce_mismatch")
			return ExchangeResult{}, unauthorized(errors.New("PKCE verifier mismatch"))
		}
	}
	sessionValid, read, err := s.sessionStillValid(ctx, ott)
	if err != nil {
		return ExchangeResult{}, fmt.Errorf("check web session: %w", err)
	}
	if !sessionValid {
		s.events.AuthEvent("ott_rejected", "session_ended")
		return ExchangeResult{}, unauthorized(errors.New("issuing web session ended"))
	}
	if err := s.limit(ctx, "exchange-user:"+ott.TenantID+":"+ott.UserID, exchangeLimit); err != nil {
		return ExchangeResult{}, err
	}
	var m member
	if read != nil {
		// Appliance mode read the user and tenant with the session.
		m = s.memberOf(ott.TenantID, *read)
	} else if m, err = s.loadMember(ctx, ott.TenantID, ott.UserID); err != nil {
		return ExchangeResult{}, err
	}
	user, err := m.activeInternal()
	if err != nil {
		s.events.AuthEvent("ott_rejected", "user")
		return ExchangeResult{}, err
	}
	if d := m.gate; !d.Enabled {
		s.events.AuthEvent("ott_rejected", "gate_"+d.Reason)
		return ExchangeResult{}, gateError(d)
	}
	res, familyID, err := s.startFamily(ctx, user, ott.SessionHash, req.Device)
	if err != nil {
		return ExchangeResult{}, err
	}
	s.events.AuthEvent("ott_exchanged", "")
	s.audit(ctx, mobileauth.AuditEvent{TenantID: user.TenantID, UserID: user.ID, Operation: mobileauth.AuditExchange,
		RecordID: familyID, ClientIP: req.ClientIP, Details: deviceDetails(req.Device)})
	return res, nil
}

// retryable reports whether err leaves the phone a reason to present the
// same OTT again: a 503 (a dependency such as the store, AlgaPSA's database
// or Redis could not be reached), or the request ended before an answer
// (the client went away, or the deadline passed). Nothing was handed out.
func retryable(err error) bool {
	if mobileauth.ErrorCode(err) == mobileauth.CodeServiceUnavailable ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var coded *mobileauth.Error
	return !errors.As(err, &coded) && mobileauth.Unavailable(err)
}

// startFamily creates a token family with its first refresh token and
// issues the first access token.
func (s *Service) startFamily(ctx context.Context, u mobileauth.User, sessionHash mobileauth.Hash, dev mobileauth.Device) (ExchangeResult, string, error) {
	now := s.now()
	familyID, err := token.NewOpaque(s.rand)
	if err != nil {
		return ExchangeResult{}, "", err
	}
	refresh, err := token.NewOpaque(s.rand)
	if err != nil {
		return ExchangeResult{}, "", err
	}
	fam := mobileauth.TokenFamily{ID: familyID[:22], TenantID: u.TenantID, UserID: u.ID, SessionHash: sessionHash, Device: dev, CreatedAt: now}
	first := mobileauth.RefreshToken{Hash: token.HashOf(refresh), FamilyID: fam.ID, TenantID: u.TenantID, UserID: u.ID,
		CreatedAt: now, ExpiresAt: now.Add(s.set.RefreshTTL)}
	if err := s.st.Refresh.CreateFamily(ctx, fam, first); err != nil {
		return ExchangeResult{}, "", fmt.Errorf("create token family: %w", err)
	}
	// The family was created just now and its refresh token is not out, so
	// it has no credential to end: its first is issued without looking.
	access, err := s.issueFirst(ctx, u, fam.ID, dev)
	if err != nil {
		s.abandonFamily(ctx, u, fam.ID)
		if errors.Is(err, mobileauth.ErrNotFound) {
			// The owner lost mobile access between the checks and the mint.
			return ExchangeResult{}, "", unauthorized(err)
		}
		return ExchangeResult{}, "", err
	}
	// The family's refresh token is not out yet, so no /revoke can race
	// this mint, but a store-side revocation (`users disable` revokes the
	// user's families) can: the same re-check as on refresh leaves such a
	// family no live access credential.
	if err := s.confirmFamilyLive(ctx, u.TenantID, u.ID, fam.ID); err != nil {
		s.abandonFamily(ctx, u, fam.ID)
		return ExchangeResult{}, "", err
	}
	return ExchangeResult{AccessToken: access.Token, RefreshToken: refresh, ExpiresInSec: int(access.TTL.Seconds()),
		TenantID: u.TenantID, User: UserInfo{ID: u.ID, Email: u.Email, Name: u.Name()}}, fam.ID, nil
}

// abandonFamily ends a family whose tokens are never handed out (the
// exchange failed after creating it), with any key minted for it, so that
// a retry of the exchange leaves one live family and one active key. It
// outlives the request's cancellation, briefly; a failure is logged.
func (s *Service) abandonFamily(ctx context.Context, u mobileauth.User, familyID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := s.revokeFamily(ctx, u.TenantID, u.ID, familyID); err != nil {
		s.log.ErrorContext(ctx, "could not end a family whose tokens were never handed out", "family", familyID, "error", err)
	}
}

func deviceDetails(d mobileauth.Device) map[string]string {
	m := map[string]string{}
	for k, v := range map[string]string{"platform": d.Platform, "appVersion": d.AppVersion, "buildVersion": d.BuildVersion, "deviceId": d.DeviceID} {
		if v != "" {
			m[k] = clip(v, 128)
		}
	}
	return m
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
