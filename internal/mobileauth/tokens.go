package mobileauth

import "time"

// Hash is the SHA-256 of an opaque token (OTT, refresh token, session id).
// Only hashes are stored: a database dump yields no usable token.
type Hash [32]byte

// Device is what the app tells us about itself; all fields optional.
type Device struct {
	Platform     string `json:"platform,omitempty"`
	AppVersion   string `json:"appVersion,omitempty"`
	BuildVersion string `json:"buildVersion,omitempty"`
	DeviceID     string `json:"deviceId,omitempty"`
}

// WebSession is a browser sign-in. The cookie carries the clear id; the
// store keeps its hash.
type WebSession struct {
	IDHash    Hash
	TenantID  string
	UserID    string
	Provider  string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time
}

// Valid reports whether the session may still be used at now.
func (s WebSession) Valid(now time.Time) bool {
	return s.RevokedAt == nil && now.Before(s.ExpiresAt)
}

// OneTimeToken is the short-lived handoff token the browser passes to the
// app through the deep link.
type OneTimeToken struct {
	Hash        Hash
	TenantID    string
	UserID      string
	SessionHash Hash // own web session that issued it (zero for another source)
	// SessionSource names the kind of web session that issued it ("own" for
	// this service's browser sessions; see authflow.SessionSource) and
	// SessionRef is that source's reference to the session, which the
	// exchange checks again.
	SessionSource string
	SessionRef    string
	State         string
	CodeChallenge string // S256 challenge, empty when the app sent none
	CreatedAt     time.Time
	ExpiresAt     time.Time
	ConsumedAt    *time.Time
}

// ConsumedOTT is a one-time token as it was consumed, with whether the
// own web session that issued it was still valid (WebSession.Valid) at that
// moment: the exchange needs both, and the store reads them together
// (SessionValid is false when another source issued the token).
type ConsumedOTT struct {
	OneTimeToken
	SessionValid bool
}

// TokenFamily groups every refresh token descended from one exchange, so
// that reuse of any member can revoke all of them (RFC 9700 §4.14).
type TokenFamily struct {
	ID          string
	TenantID    string
	UserID      string
	SessionHash Hash
	Device      Device
	CreatedAt   time.Time
	RevokedAt   *time.Time
	// AdoptionPending: the family was started for a refresh token that
	// AlgaPSA issued (SPEC §8.5) and AlgaPSA's row is not claimed yet
	// (see AdoptionStore).
	AdoptionPending bool
}

// RefreshToken is one member of a family. ReplacedBy is the hash of its
// successor once rotated.
type RefreshToken struct {
	Hash       Hash
	FamilyID   string
	TenantID   string
	UserID     string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RotatedAt  *time.Time
	ReplacedBy *Hash
	RevokedAt  *time.Time
	// AdoptionPending is its family's (read with the token; set only by
	// reads that join the family).
	AdoptionPending bool
}

// SigningKey is an access-token signing key. Private is nil for keys loaded
// only to verify.
type SigningKey struct {
	KID        string
	Algorithm  string // "EdDSA"
	PrivateDER []byte // PKCS#8
	PublicDER  []byte // PKIX
	CreatedAt  time.Time
	// RetiredAt is set when a newer key became active; the key stays in the
	// JWKS until RetiredAt + the access-token lifetime.
	RetiredAt *time.Time
}

// AuditEvent is one row of the audit trail (SPEC §6).
type AuditEvent struct {
	ID            int64
	Time          time.Time
	TenantID      string
	UserID        string
	Operation     string
	RecordID      string
	ClientIP      string
	CorrelationID string
	Details       map[string]string
}

// Audit operations.
const (
	AuditOTTIssued     = "MOBILE_AUTH_OTT_ISSUED"
	AuditExchange      = "MOBILE_AUTH_EXCHANGE"
	AuditRefresh       = "MOBILE_AUTH_REFRESH"
	AuditRefreshReuse  = "MOBILE_AUTH_REFRESH_REUSE"
	AuditRevoke        = "MOBILE_AUTH_REVOKE"
	AuditSignIn        = "MOBILE_AUTH_SIGNIN"
	AuditSignInRefused = "MOBILE_AUTH_SIGNIN_REFUSED"
)

// Audit operations of the admin commands (beyond the SPEC's list: an
// operator's changes to the directory and keys are traceable too).
const (
	AuditAdminUserAdd     = "MOBILE_AUTH_ADMIN_USER_ADD"
	AuditAdminUserImport  = "MOBILE_AUTH_ADMIN_USER_IMPORT"
	AuditAdminUserDisable = "MOBILE_AUTH_ADMIN_USER_DISABLE"
	AuditAdminUserEnable  = "MOBILE_AUTH_ADMIN_USER_ENABLE"
	AuditAdminTenantPlan  = "MOBILE_AUTH_ADMIN_TENANT_PLAN"
	AuditAdminKeysRotate  = "MOBILE_AUTH_ADMIN_KEYS_ROTATE"
)
