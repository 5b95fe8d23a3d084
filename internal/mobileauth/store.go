package mobileauth

import (
	"context"
	"time"
)

// The interfaces below are what the use cases need from storage. They are
// small on purpose; internal/sqlstore implements all of them for SQLite and
// PostgreSQL, and internal/sqlstore/storetest holds the suite both pass.

// OTTStore keeps one-time tokens.
type OTTStore interface {
	CreateOTT(ctx context.Context, t OneTimeToken) error
	// ConsumeOTT marks the token consumed and returns it, atomically: among
	// concurrent callers (on any replica) exactly one gets it; the others,
	// and callers after expiry, get ErrNotFound.
	ConsumeOTT(ctx context.Context, hash Hash, now time.Time) (ConsumedOTT, error)
	// ReleaseOTT undoes the consumption stamped consumedAt, so that an
	// exchange that failed for a retryable reason after consuming the token
	// (a dependency down) can be retried; ErrNotFound when the token is not
	// consumed at that instant.
	ReleaseOTT(ctx context.Context, hash Hash, consumedAt time.Time) error
}

// SessionStore keeps browser sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, s WebSession) error
	// GetSession returns the session whatever its state; ErrNotFound if absent.
	GetSession(ctx context.Context, idHash Hash) (WebSession, error)
	RevokeSession(ctx context.Context, idHash Hash, now time.Time) error
}

// RotateOutcome tells the use case what happened to a presented refresh token.
type RotateOutcome int

// Rotate outcomes.
const (
	// Rotated: the presented token was current and now has the successor.
	Rotated RotateOutcome = iota + 1
	// AlreadyRotated: the presented token had been rotated before; Current
	// describes it (RotatedAt, ReplacedBy) and SuccessorUsed says whether
	// its successor has itself been rotated or revoked since.
	AlreadyRotated
)

// RotateResult is what RotateRefreshToken reports.
type RotateResult struct {
	Outcome       RotateOutcome
	Current       RefreshToken // the presented token as stored
	SuccessorUsed bool
}

// RefreshStore keeps token families and their refresh tokens.
type RefreshStore interface {
	// CreateFamily stores a new family and its first refresh token together.
	CreateFamily(ctx context.Context, f TokenFamily, first RefreshToken) error
	// RotateRefreshToken replaces the token with hash old by the token
	// successor (same family, tenant and user; created at now, expiring at
	// expiresAt) in one transaction, by a conditional update that succeeds
	// for exactly one caller. ErrNotFound when old is unknown; revoked or
	// expired tokens and families are reported as found so the caller can
	// decide.
	RotateRefreshToken(ctx context.Context, old, successor Hash, expiresAt, now time.Time) (RotateResult, error)
	GetRefreshToken(ctx context.Context, hash Hash) (RefreshToken, error)
	GetFamily(ctx context.Context, id string) (TokenFamily, error)
	// RevokeFamily revokes the family and every token in it (idempotent).
	RevokeFamily(ctx context.Context, familyID string, now time.Time) error
	// RevokeSessionFamilies revokes every family born of a web session.
	RevokeSessionFamilies(ctx context.Context, sessionHash Hash, now time.Time) error
	// RevokedFamiliesSince lists families revoked at or after since, so the
	// verifier can refresh its revocation view cheaply.
	RevokedFamiliesSince(ctx context.Context, since time.Time) ([]string, error)
}

// AdoptionStore starts token families for refresh tokens that AlgaPSA
// issued (SPEC §8.5, appliance mode). The family's creation is the
// adoption's exactly-once point: the presented token is stored already
// rotated, so every other presentation of it, on any replica, meets it as
// a rotated token of that family (§3.5's grace rules). The family stays
// AdoptionPending until AlgaPSA's row is known to be claimed. A pending
// family is never deleted: its claim may have committed.
type AdoptionStore interface {
	// CreateAdoptedFamily stores f (pending), adopted (the presented token,
	// rotated: RotatedAt and ReplacedBy set to successor's hash) and
	// successor, in one transaction. ErrConflict when adopted's hash (or
	// successor's) already exists: another caller adopted it first.
	CreateAdoptedFamily(ctx context.Context, f TokenFamily, adopted, successor RefreshToken) error
	// ConfirmAdoption ends the family's pending state once AlgaPSA's row is
	// claimed, and restamps the adopted token's rotation at now (the grace
	// period counts from the confirmation); ErrNotFound when the family is
	// not pending (gone, or already confirmed).
	ConfirmAdoption(ctx context.Context, familyID string, now time.Time) error
	// RejectAdoption revokes the family and its tokens when AlgaPSA's row
	// turned out not to be claimed (AlgaPSA took the token back), but only
	// while the family is still pending: ErrNotFound when it is not (a
	// confirmation won, or it is gone), so a late settler cannot end a
	// family that another presentation has confirmed.
	RejectAdoption(ctx context.Context, familyID string, now time.Time) error
}

// KeyStore keeps access-token signing keys so replicas and restarts agree.
type KeyStore interface {
	// ListSigningKeys returns every key, newest first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// AddSigningKey stores k and retires every other active key at k.CreatedAt.
	AddSigningKey(ctx context.Context, k SigningKey) error
	// ServerSecret returns the named random secret, creating it with gen on
	// first use (first writer wins on every replica).
	ServerSecret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error)
}

// DirectoryStore keeps the users and tenants who may sign in.
type DirectoryStore interface {
	// AddUser inserts a user (and its tenant if new); ErrConflict if the
	// e-mail or id already exists in that tenant.
	AddUser(ctx context.Context, u User) error
	// ImportUsers inserts all users in one transaction, or none.
	ImportUsers(ctx context.Context, users []User) error
	ListUsers(ctx context.Context) ([]User, error)
	// FindUsersByEmail matches case-insensitively across tenants.
	FindUsersByEmail(ctx context.Context, email string) ([]User, error)
	GetUser(ctx context.Context, tenantID, userID string) (User, error)
	// SetUserActive enables or disables a user (idempotent); ErrNotFound if
	// absent. Disabling also revokes, at now, every token family and web
	// session of the user, so that enabling later revives none of them.
	SetUserActive(ctx context.Context, tenantID, email string, active bool, now time.Time) error
	GetTenant(ctx context.Context, tenantID string) (Tenant, error)
	// GetMember reads a user and their tenant at once, as the use cases
	// need both; a missing user is Member.User == nil, not an error.
	GetMember(ctx context.Context, tenantID, userID string) (Member, error)
	SetTenantPlan(ctx context.Context, tenantID string, plan Tier) error
}

// AuditFilter selects audit events; empty fields match everything.
type AuditFilter struct {
	TenantID string
	UserID   string
	Limit    int
}

// AuditStore keeps the audit trail.
type AuditStore interface {
	AppendAudit(ctx context.Context, e AuditEvent) error
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
}

// RateDecision is a rate limiter's answer.
type RateDecision struct {
	Allowed    bool
	RetryAfter time.Duration // > 0 when not allowed
}

// RateLimit describes one limit: at most Limit hits per Window; exceeding
// it blocks the key for Block.
type RateLimit struct {
	Limit  int
	Window time.Duration
	Block  time.Duration
}

// RateLimiter counts hits per key. Implementations: in-process, PostgreSQL
// (shared by replicas), Redis (shared by replicas).
type RateLimiter interface {
	Hit(ctx context.Context, key string, l RateLimit, now time.Time) (RateDecision, error)
}

// Pinger reports whether the store is reachable (for /readyz).
type Pinger interface {
	Ping(ctx context.Context) error
}
