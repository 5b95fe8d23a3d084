package license

import (
	"crypto/elliptic"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// Issuer is the "iss" every license carries.
const Issuer = "nineminds-license"

// Leeway is the clock skew tolerated on exp, nbf and iat (SPEC §5).
const Leeway = 60 * time.Second

// maxTokenLen bounds the token Verify will parse. A license is a few
// hundred bytes; refusing megabytes up front keeps a wrong file cheap.
const maxTokenLen = 16 << 10

// Reason says why a configured license grants nothing. It is what the check
// command and the startup log print.
type Reason string

// Reasons. ReasonNone means the license verified and is within its validity.
const (
	ReasonNone Reason = ""
	// ReasonExpired: exp is more than Leeway in the past.
	ReasonExpired Reason = "expired"
	// ReasonNotYetValid: iat or nbf is more than Leeway in the future. Kept
	// apart from expired and malformed because its usual cause is neither a
	// stale nor a damaged license but a wrong clock on the appliance.
	ReasonNotYetValid Reason = "not_yet_valid"
	// ReasonBadSignature: the signature does not verify with the key its kid
	// names, or the header's alg is anything but ES256 (alg swaps such as
	// HS256 or none land here).
	ReasonBadSignature Reason = "bad_signature"
	// ReasonUnknownKID: the kid is not among the configured keys.
	ReasonUnknownKID Reason = "unknown_kid"
	// ReasonMalformed: not a compact JWS; no kid or alg, or a "crit", in the
	// header; or signed claims that are not a license (wrong iss, a required
	// claim missing, an unknown tier, more than one aud, negative seats).
	ReasonMalformed Reason = "malformed"
	// ReasonNoKeys: a license is set but no public key is configured.
	ReasonNoKeys Reason = "no_keys"
)

// Hint is a one-line fix for the operator, for the check command.
func (r Reason) Hint() string {
	switch r {
	case ReasonNone:
		return ""
	case ReasonExpired:
		return "the license has expired; install a renewed license from Nine Minds in ALGA_LICENSE or ALGA_LICENSE_FILE"
	case ReasonNotYetValid:
		return "the license is dated in the future; check the appliance clock (NTP)"
	case ReasonBadSignature:
		return "the license signature does not verify; make sure ALGA_LICENSE_PUBLIC_KEYS holds the vendor's published key and the license was copied whole"
	case ReasonUnknownKID:
		return "the license was signed with a key id that ALGA_LICENSE_PUBLIC_KEYS does not hold; add the vendor's published key for that kid"
	case ReasonMalformed:
		return "the value is not a well-formed Nine Minds license; copy it again from the vendor"
	case ReasonNoKeys:
		return "a license is set but no public key is configured; point ALGA_LICENSE_PUBLIC_KEYS at the vendor's published key"
	}
	return "unrecognised license state"
}

// Claims is what a license grants.
type Claims struct {
	Subject   string          // sub: the license id
	Customer  string          // cust
	Tier      mobileauth.Tier // tier; "premium" is read as pro
	IssuedAt  time.Time       // iat
	ExpiresAt time.Time       // exp
	Seats     int             // seats; 0 when absent
	Audience  string          // aud: the tenant id it is bound to; "" if unbound
}

// BoundTo reports whether the license applies to tenantID: an unbound
// license applies to every tenant. Tenant ids are UUIDs, whose hex digits
// may be written in either case, hence EqualFold.
func (c Claims) BoundTo(tenantID string) bool {
	return c.Audience == "" || strings.EqualFold(c.Audience, tenantID)
}

// licenseClaims is the JSON shape of a license's payload.
type licenseClaims struct {
	jwt.RegisteredClaims
	Customer string `json:"cust"`
	Tier     string `json:"tier"`
	Seats    int    `json:"seats"`
}

// Errors the key function returns, so Verify can tell them apart from the
// library's own.
var (
	errNoKeys     = errors.New("no license public keys configured")
	errMissingKID = errors.New(`no "kid" in the header`)
	errUnknownKID = errors.New("kid not among the configured keys")
	errCrit       = errors.New(`"crit" header extensions are not supported`)
)

// Verify checks token, a compact JWS license, against keys at now. Only
// ES256 is accepted (the method is pinned, so the token cannot choose its
// algorithm) and the header's kid selects the key. iss must be Issuer; sub,
// cust, tier, iat and exp are required; exp, nbf and iat get Leeway.
//
// On failure it returns the Reason and an error with the detail for logs
// (never the token itself). Claims are filled whenever the signature
// verified and the claims are well formed, so an expired or not-yet-valid
// license still tells when it ends or starts; otherwise they are zero.
// Verify never panics.
func Verify(token string, keys Keys, now time.Time) (Claims, Reason, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return Claims{}, ReasonMalformed, fmt.Errorf("license %s: empty", ReasonMalformed)
	}
	if len(token) > maxTokenLen {
		return Claims{}, ReasonMalformed, fmt.Errorf("license %s: longer than %d bytes", ReasonMalformed, maxTokenLen)
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
		// Strict base64 refuses non-canonical encodings, so one license has
		// exactly one spelling.
		jwt.WithStrictDecoding(),
	)
	var lc licenseClaims
	tok, err := parser.ParseWithClaims(token, &lc, keyFunc(keys))
	if reason := signatureReason(tok, err); reason != ReasonNone {
		return Claims{}, reason, fmt.Errorf("license %s: %w", reason, err)
	}
	// From here on the signature verified: the claims are the vendor's.
	claims, cerr := lc.claims()
	if cerr != nil {
		return Claims{}, ReasonMalformed, fmt.Errorf("license %s: %w", ReasonMalformed, cerr)
	}
	if err == nil {
		return claims, ReasonNone, nil
	}
	switch {
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		// Not a license, whatever its dates say: malformed, below.
	case errors.Is(err, jwt.ErrTokenExpired):
		return claims, ReasonExpired, fmt.Errorf("license %s: %w", ReasonExpired, err)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return claims, ReasonNotYetValid, fmt.Errorf("license %s: %w", ReasonNotYetValid, err)
	}
	return Claims{}, ReasonMalformed, fmt.Errorf("license %s: %w", ReasonMalformed, err)
}

// keyFunc selects the key named by the header's kid.
func keyFunc(keys Keys) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if len(keys) == 0 {
			return nil, errNoKeys
		}
		// RFC 7515 §4.1.11: a recipient must reject extensions it does
		// not understand, and this one understands none.
		if _, ok := t.Header["crit"]; ok {
			return nil, errCrit
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errMissingKID
		}
		key, ok := keys[kid]
		// A nil or non-P-256 entry can only come from a hand-built Keys;
		// treat it as absent rather than let the library meet it.
		if !ok || key == nil || key.Curve != elliptic.P256() {
			// The kid is untrusted input bound for the logs: keep it short.
			return nil, fmt.Errorf("%w: %.64q", errUnknownKID, kid)
		}
		return key, nil
	}
}

// signatureReason classifies the errors that mean the claims cannot be
// trusted: anything up to and including the signature check. It returns
// ReasonNone when err is nil or only about claim validation.
func signatureReason(tok *jwt.Token, err error) Reason {
	switch {
	case err == nil:
		return ReasonNone
	case errors.Is(err, errNoKeys):
		return ReasonNoKeys
	case errors.Is(err, errUnknownKID):
		return ReasonUnknownKID
	case errors.Is(err, errMissingKID), errors.Is(err, errCrit), errors.Is(err, jwt.ErrTokenMalformed):
		return ReasonMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return ReasonBadSignature
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// The library could not pick a method: an alg it does not know is a
		// token not signed the way licenses are; no alg at all is a broken
		// header.
		if tok != nil {
			if alg, _ := tok.Header["alg"].(string); alg != "" {
				return ReasonBadSignature
			}
		}
		return ReasonMalformed
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return ReasonNone
	}
	return ReasonMalformed
}

// claims checks the claims the library does not require and converts them.
func (lc *licenseClaims) claims() (Claims, error) {
	switch {
	case strings.TrimSpace(lc.Subject) == "":
		return Claims{}, errors.New("sub claim is required")
	case strings.TrimSpace(lc.Customer) == "":
		return Claims{}, errors.New("cust claim is required")
	case strings.TrimSpace(lc.Tier) == "":
		return Claims{}, errors.New("tier claim is required")
	case lc.IssuedAt == nil:
		return Claims{}, errors.New("iat claim is required")
	case lc.ExpiresAt == nil:
		return Claims{}, errors.New("exp claim is required")
	case lc.Seats < 0:
		return Claims{}, fmt.Errorf("seats claim is negative (%d)", lc.Seats)
	case len(lc.Audience) > 1:
		return Claims{}, fmt.Errorf("aud claim names %d tenants; a license binds at most one", len(lc.Audience))
	}
	tier, err := mobileauth.ParseTier(lc.Tier)
	if err != nil {
		return Claims{}, fmt.Errorf("tier claim: %w", err)
	}
	c := Claims{
		Subject:   lc.Subject,
		Customer:  lc.Customer,
		Tier:      tier,
		IssuedAt:  lc.IssuedAt.Time,
		ExpiresAt: lc.ExpiresAt.Time,
		Seats:     lc.Seats,
	}
	if len(lc.Audience) == 1 {
		c.Audience = lc.Audience[0]
	}
	return c, nil
}
