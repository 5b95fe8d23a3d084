package authflow

import (
	"context"
	"errors"
	"fmt"

	"github.com/nineminds/alga-mobile-auth/internal/license"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// RefreshRequest is SPEC §3.5's body plus the caller's address.
type RefreshRequest struct {
	RefreshToken string
	Device       mobileauth.Device
	ClientIP     string
}

// RefreshResult is SPEC §3.5's response, field for field.
type RefreshResult struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	ExpiresInSec int    `json:"expiresInSec"`
}

// Refresh rotates a refresh token (SPEC §3.5). The successor is derived
// from the presented token (HMAC under a server key), so every concurrent
// or retried refresh of one token computes the same successor without it
// ever being stored in clear; the store's conditional update lets exactly
// one caller create it. A replay inside the grace period, while the
// successor is unused, gets that same successor back; any other replay of
// a rotated token is theft (RFC 9700 §4.14) and revokes the family. In
// appliance mode a token AlgaPSA issued is adopted (adopt) and from then
// on follows the same rules.
func (s *Service) Refresh(ctx context.Context, req RefreshRequest) (RefreshResult, error) {
	if err := required("refreshToken", req.RefreshToken); err != nil {
		return RefreshResult{}, err
	}
	if len(req.RefreshToken) > 512 {
		return RefreshResult{}, unauthorized(errors.New("refresh token too long"))
	}
	if err := s.limit(ctx, "refresh-ip:"+rateIP(req.ClientIP), refreshLimit); err != nil {
		return RefreshResult{}, err
	}
	presented := token.HashOf(req.RefreshToken)
	// An adoption of an AlgaPSA-issued token that another caller won sends
	// the presentation back to the lookup: it then
	// finds the token as that caller left it (bounded, however unlikely a
	// second move is).
	for attempt := 1; ; attempt++ {
		res, err := s.refresh(ctx, req, presented)
		if !errors.Is(err, errAdoptionMoved) {
			return res, err
		}
		if attempt == 3 {
			return RefreshResult{}, mobileauth.WrapError(mobileauth.CodeServiceUnavailable,
				"Service temporarily unavailable, please retry", err)
		}
	}
}

// refresh is one attempt of Refresh for the presented token's hash.
func (s *Service) refresh(ctx context.Context, req RefreshRequest, presented mobileauth.Hash) (RefreshResult, error) {
	// The per-user limit needs the token's owner, and must refuse before
	// the rotation: a token rotated for a caller who then gets 429 would,
	// when retried after the block (past the grace period), read as theft
	// and end the family.
	owner, err := s.st.Refresh.GetRefreshToken(ctx, presented)
	if errors.Is(err, mobileauth.ErrNotFound) && s.alga != nil {
		return s.adopt(ctx, req, presented)
	}
	if errors.Is(err, mobileauth.ErrNotFound) {
		s.events.AuthEvent("refresh_rejected", "unknown")
		return RefreshResult{}, unauthorized(err)
	}
	if err != nil {
		return RefreshResult{}, fmt.Errorf("look up refresh token: %w", err)
	}
	now := s.now()
	if s.set.FamilyMaxAge > 0 {
		// However often it is refreshed, a family ends at its absolute
		// lifetime, so a stolen refresh token cannot be kept alive forever.
		fam, err := s.st.Refresh.GetFamily(ctx, owner.FamilyID)
		if err != nil {
			return RefreshResult{}, fmt.Errorf("read token family: %w", err)
		}
		if now.Sub(fam.CreatedAt) >= s.set.FamilyMaxAge {
			if err := s.revokeFamily(ctx, owner.TenantID, owner.UserID, owner.FamilyID); err != nil {
				return RefreshResult{}, err
			}
			s.events.AuthEvent("refresh_rejected", "family_max_age")
			return RefreshResult{}, unauthorized(errors.New("token family past its absolute lifetime"))
		}
	}
	live := owner.RotatedAt == nil && owner.RevokedAt == nil && now.Before(owner.ExpiresAt)
	// Only a token that may still be answered 200 counts against its
	// owner's limit: a live one, or a replay inside the grace period (a
	// retry storm of one token is still held to 30 a minute). A dead one
	// (revoked, expired, rotated before the grace period: from a lost
	// phone, a log, a backup) is held to the per-IP limit alone, or anyone
	// holding one could keep every device of the user from refreshing,
	// from rotating addresses.
	// An adopted token whose adoption is still pending counts as a replay
	// inside the grace period: its successor has been handed to no one.
	replay := owner.RotatedAt != nil && owner.RevokedAt == nil && now.Before(owner.ExpiresAt) &&
		(now.Sub(*owner.RotatedAt) <= s.set.RefreshGrace || owner.AdoptionPending)
	if live || replay {
		if err := s.limit(ctx, "refresh-user:"+owner.TenantID+":"+owner.UserID, refreshLimit); err != nil {
			return RefreshResult{}, err
		}
	}
	// The owner's user and tenant plan are read when needed (admitIssue),
	// once for the checks on both sides of the rotation (a token's tenant
	// and user never change), and again only after a refused mint. In
	// standalone mode a `users disable` committed before that read is
	// refused there, and one committed after it revokes the family, so the
	// rotation below then refuses the token.
	o := &tokenOwner{}
	// The owner is admitted before rotating a live token: a tenant whose
	// plan lapses and comes back keeps its sessions. A user disabled (or
	// made a client user) is refused first, with the 401 that ends the
	// session, whatever the tenant's plan (SPEC §8.2). A dead token
	// (rotated, revoked, expired) is judged first, so that it still gets
	// its 401 and a stolen one still triggers theft detection.
	// A live token's access credential is issued before the rotation too,
	// so that the rotation is the last step that can fail: a mint that
	// fails (AlgaPSA's database down while this store is up) then leaves
	// the token live for the phone's retry, however long the outage, where
	// after the rotation it would leave a rotated token that reads as theft
	// once the grace period is over. A credential issued for a rotation
	// that then fails is never handed out, and the family's next mint ends
	// it (API keys: one active key per family).
	// A pending adoption is settled (and its grace period started) only
	// when the refresh may be answered, so its owner is admitted first.
	var access AccessToken
	if live {
		if access, err = s.admitIssue(ctx, o, owner, req.Device); err != nil {
			return RefreshResult{}, err
		}
	} else if owner.AdoptionPending && owner.RevokedAt == nil {
		if _, err := s.admitOwner(ctx, o, owner); err != nil {
			return RefreshResult{}, err
		}
	}
	successor := s.deriver.Successor(req.RefreshToken)
	succHash := token.HashOf(successor)
	res, err := s.st.Refresh.RotateRefreshToken(ctx, presented, succHash, now.Add(s.set.RefreshTTL), now)
	if errors.Is(err, mobileauth.ErrNotFound) {
		s.events.AuthEvent("refresh_rejected", "unknown")
		return RefreshResult{}, unauthorized(err)
	}
	if err != nil {
		return RefreshResult{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	cur := res.Current
	event := "refresh_rotated"
	if res.Outcome == mobileauth.AlreadyRotated {
		if err := s.settleReplay(ctx, res, succHash, req.ClientIP); err != nil {
			return RefreshResult{}, err
		}
		event = "refresh_grace_replay"
	}
	if !live {
		if access, err = s.admitIssue(ctx, o, cur, req.Device); err != nil {
			return RefreshResult{}, err
		}
	}
	if err := s.confirmFamilyLive(ctx, cur.TenantID, cur.UserID, cur.FamilyID); err != nil {
		if !errors.Is(err, errRecheckUnavailable) {
			return RefreshResult{}, err
		}
		// The rotation is committed: a 503 now would leave the phone
		// holding a rotated token, which after the grace period (a store
		// outage easily outlasts it) reads as theft and signs it out. The
		// re-check only guards a revocation racing this very refresh,
		// which the revocation view still enforces on access tokens.
		s.log.WarnContext(ctx, "answering a committed refresh without its revocation re-check: the store is unreachable",
			"family", cur.FamilyID, "error", err)
	}
	s.events.AuthEvent(event, "")
	if res.Outcome == mobileauth.Rotated {
		s.audit(ctx, mobileauth.AuditEvent{TenantID: cur.TenantID, UserID: cur.UserID, Operation: mobileauth.AuditRefresh,
			RecordID: cur.FamilyID, ClientIP: req.ClientIP, Details: deviceDetails(req.Device)})
	}
	return RefreshResult{AccessToken: access.Token, RefreshToken: successor, ExpiresInSec: int(access.TTL.Seconds())}, nil
}

// tokenOwner is a refresh's read of its token's owner (user and tenant),
// kept for the checks on both sides of the rotation.
type tokenOwner struct {
	m *member // nil until read
}

// admitOwner reads o, the owner of token t, unless already read, and
// admits them (admit).
func (s *Service) admitOwner(ctx context.Context, o *tokenOwner, t mobileauth.RefreshToken) (mobileauth.User, error) {
	if o.m == nil {
		m, err := s.loadMember(ctx, t.TenantID, t.UserID)
		if err != nil {
			return mobileauth.User{}, err
		}
		o.m = &m
	}
	return s.admit(ctx, *o.m, t)
}

// admitIssue admits o, the owner of token t, and issues the family's next
// access credential. When the credentials apply the owner rule as they
// issue (ownerRuleIssuer: AlgaPSA API keys) and the gate decides without
// the tenant's row (any licensing but hosted), the owner is not read
// first: an appliance refresh then makes one round trip to AlgaPSA's
// database instead of two. Either way a refused issue reads the owner
// afresh and answers as admit would. The refused mint has ended the
// family's previous key all the same: for a user who lost mobile access
// admit ends every key anyway, and a suspended tenant's key is refused by
// AlgaPSA (and /verify) until the tenant is resumed, when the phone's next
// refresh mints one.
func (s *Service) admitIssue(ctx context.Context, o *tokenOwner, t mobileauth.RefreshToken, dev mobileauth.Device) (AccessToken, error) {
	user := mobileauth.User{ID: t.UserID, TenantID: t.TenantID}
	if o.m != nil || !s.ownerAtIssue || !s.gate.ForTenant(t.TenantID, nil).Enabled {
		var err error
		if user, err = s.admitOwner(ctx, o, t); err != nil {
			return AccessToken{}, err
		}
	}
	access, err := s.access.Issue(ctx, user, t.FamilyID, dev)
	if !errors.Is(err, mobileauth.ErrNotFound) {
		return access, err
	}
	o.m = nil // what was read before the mint is stale now
	if _, aerr := s.admitOwner(ctx, o, t); aerr != nil {
		return AccessToken{}, aerr
	}
	// Refused at the mint, admitted by a read a moment later: the user was
	// enabled again, or the tenant resumed, in between. The phone's retry
	// mints: a live token is still unrotated, and a replay's successor is
	// still unused (a retry inside the grace period gets it).
	s.events.AuthEvent("refresh_rejected", "owner_changed")
	return AccessToken{}, mobileauth.WrapError(mobileauth.CodeServiceUnavailable,
		"Service temporarily unavailable, please retry", err)
}

// admit checks that m, the owner of token t, may still refresh: an active
// internal user (else the session ends, refuseUser) of a tenant whose plan
// grants mobile access.
func (s *Service) admit(ctx context.Context, m member, t mobileauth.RefreshToken) (mobileauth.User, error) {
	user, err := m.activeInternal()
	if err != nil {
		return user, s.refuseUser(ctx, t.TenantID, t.UserID, t.FamilyID, err)
	}
	return user, s.refreshGate(m.gate)
}

// refuseUser ends a refresh whose user was disabled, or made a client
// user, since sign-in: the whole family and every access token of the user
// end, and the answer is 401 whatever the reason (SPEC §8.2): the session
// is over.
func (s *Service) refuseUser(ctx context.Context, tenantID, userID, familyID string, why error) error {
	if err := s.revokeFamily(ctx, tenantID, userID, familyID); err != nil {
		s.log.ErrorContext(ctx, "could not revoke the family of a disabled user", "family", familyID, "error", err)
	}
	s.endUser(ctx, tenantID, userID)
	s.events.AuthEvent("refresh_rejected", "user")
	return unauthorized(why)
}

// refreshGate refuses a refresh when the tenant's plan or the license no
// longer grants mobile access.
func (s *Service) refreshGate(d license.Decision) error {
	if !d.Enabled {
		s.events.AuthEvent("refresh_rejected", "gate_"+d.Reason)
		return gateError(d)
	}
	return nil
}

// settleReplay decides about a token that was not rotated now. A token
// adopted from AlgaPSA whose adoption is still pending (no one has its
// successor yet) settles the adoption; once confirmed it is a retry like
// one inside the grace period, whenever the family was created. Any other
// goes to judgeReplay.
func (s *Service) settleReplay(ctx context.Context, res mobileauth.RotateResult, succHash mobileauth.Hash, ip string) error {
	cur := res.Current
	if cur.AdoptionPending && cur.RotatedAt != nil && cur.RevokedAt == nil &&
		cur.ReplacedBy != nil && token.Equal(*cur.ReplacedBy, succHash) {
		settle, cancel := context.WithTimeout(context.WithoutCancel(ctx), adoptionSettle)
		defer cancel()
		return s.settleAdoption(settle, cur.FamilyID, cur.TenantID, cur.UserID, cur.Hash)
	}
	return s.judgeReplay(ctx, res, succHash, ip)
}

// judgeReplay decides about a token that was not rotated now: nil for a
// retry inside the grace period, an error otherwise (after revoking the
// family when the replay is theft).
func (s *Service) judgeReplay(ctx context.Context, res mobileauth.RotateResult, succHash mobileauth.Hash, ip string) error {
	cur := res.Current
	if cur.RotatedAt == nil {
		// Never rotated: revoked or expired.
		s.events.AuthEvent("refresh_rejected", "revoked_or_expired")
		return unauthorized(errors.New("refresh token revoked or expired"))
	}
	if cur.RevokedAt != nil {
		s.events.AuthEvent("refresh_rejected", "revoked")
		return unauthorized(errors.New("refresh token family revoked"))
	}
	sameSuccessor := cur.ReplacedBy != nil && token.Equal(*cur.ReplacedBy, succHash)
	inGrace := s.now().Sub(*cur.RotatedAt) <= s.set.RefreshGrace
	if sameSuccessor && inGrace && !res.SuccessorUsed {
		return nil
	}
	reason := "after_grace"
	if res.SuccessorUsed {
		reason = "successor_used"
	}
	if err := s.revokeFamily(ctx, cur.TenantID, cur.UserID, cur.FamilyID); err != nil {
		return err
	}
	s.events.AuthEvent("refresh_reuse_detected", reason)
	s.audit(ctx, mobileauth.AuditEvent{TenantID: cur.TenantID, UserID: cur.UserID, Operation: mobileauth.AuditRefreshReuse,
		RecordID: cur.FamilyID, ClientIP: ip, Details: map[string]string{"reason": reason}})
	return unauthorized(errors.New("rotated refresh token reused: family revoked"))
}

// errRecheckUnavailable marks a confirmFamilyLive that could not read the
// family at all (the store unreachable), as opposed to one that found it
// revoked.
var errRecheckUnavailable = errors.New("token family could not be re-read")

// confirmFamilyLive re-reads the family after its next access credential
// was issued, and refuses (401) when it was revoked meanwhile: a /revoke or
// a theft detection on another replica that landed between this refresh's
// rotation and its mint. revokeFamily commits the revocation here before it
// ends the family's credentials under the key store's family lock, so a
// credential minted after that end is seen revoked by this read, and it is
// ended here; one minted before it was ended by the revocation itself.
// Either way the family keeps no live access credential (SPEC §3.6, §8.4).
func (s *Service) confirmFamilyLive(ctx context.Context, tenantID, userID, familyID string) error {
	fam, err := s.st.Refresh.GetFamily(ctx, familyID)
	if err != nil && mobileauth.Unavailable(err) {
		return fmt.Errorf("re-read token family: %w: %w", errRecheckUnavailable, err)
	}
	if err != nil {
		return fmt.Errorf("re-read token family: %w", err)
	}
	if fam.RevokedAt == nil && !fam.AdoptionPending {
		return nil
	}
	if fam.RevokedAt == nil {
		// Never met: the adoption is confirmed before anyone mints for the
		// family. Should it be, the key just minted must not outlive an
		// adoption that may yet fail, and the phone retries.
		if err := s.access.RevokeFamily(ctx, tenantID, userID, familyID); err != nil {
			return fmt.Errorf("revoke access tokens of family: %w", err)
		}
		return errors.New("token family's adoption not confirmed")
	}
	s.revoked.add(familyID)
	if err := s.access.RevokeFamily(ctx, tenantID, userID, familyID); err != nil {
		return fmt.Errorf("revoke access tokens of family: %w", err)
	}
	s.events.AuthEvent("refresh_rejected", "revoked")
	return unauthorized(errors.New("refresh token family revoked during the refresh"))
}

// revokeFamily revokes in the store and in this replica's view at once,
// and ends the family's access credentials (API keys in appliance mode).
func (s *Service) revokeFamily(ctx context.Context, tenantID, userID, familyID string) error {
	if err := s.st.Refresh.RevokeFamily(ctx, familyID, s.now()); err != nil {
		return fmt.Errorf("revoke family: %w", err)
	}
	s.revoked.add(familyID)
	if err := s.access.RevokeFamily(ctx, tenantID, userID, familyID); err != nil {
		return fmt.Errorf("revoke access tokens of family: %w", err)
	}
	return nil
}

// RevokeRequest is SPEC §3.6's body plus the caller's address.
type RevokeRequest struct {
	RefreshToken string
	ClientIP     string
}

// Revoke ends the family of a refresh token. It answers the same whether
// or not the token existed, so it cannot be used to probe tokens; only an
// empty token is a validation error.
func (s *Service) Revoke(ctx context.Context, req RevokeRequest) error {
	if err := required("refreshToken", req.RefreshToken); err != nil {
		return err
	}
	if len(req.RefreshToken) > 512 {
		return nil
	}
	hash := token.HashOf(req.RefreshToken)
	rt, err := s.st.Refresh.GetRefreshToken(ctx, hash)
	if errors.Is(err, mobileauth.ErrNotFound) {
		return s.revokeAlga(ctx, req, hash)
	}
	if err != nil {
		return fmt.Errorf("look up refresh token: %w", err)
	}
	if err := s.revokeFamily(ctx, rt.TenantID, rt.UserID, rt.FamilyID); err != nil {
		return err
	}
	if rt.AdoptionPending && s.alga != nil {
		// The adoption's claim may not have happened yet: the token is
		// revoked where AlgaPSA issued it too.
		if _, err := s.alga.RevokeAlgaRefreshToken(ctx, hash); err != nil {
			return fmt.Errorf("revoke AlgaPSA refresh token: %w", err)
		}
	}
	s.events.AuthEvent("revoked", "")
	s.audit(ctx, mobileauth.AuditEvent{TenantID: rt.TenantID, UserID: rt.UserID, Operation: mobileauth.AuditRevoke,
		RecordID: rt.FamilyID, ClientIP: req.ClientIP})
	return nil
}
