package token

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// OpaqueBytes is the entropy of every opaque token: 256 bits, well above
// the 128 bits SPEC §3.3 asks of a one-time token.
const OpaqueBytes = 32

// OpaqueLen is the length of an opaque token in characters (base64url of
// OpaqueBytes, no padding).
const OpaqueLen = 43

// NewOpaque returns OpaqueBytes read from r as base64url without padding.
// In production r is crypto/rand.Reader; tests pass a deterministic reader.
func NewOpaque(r io.Reader) (string, error) {
	var b [OpaqueBytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// HashOf returns the SHA-256 of tok, the only form in which opaque tokens
// are stored. A fast hash suffices: the tokens carry 256 bits of entropy,
// so there is nothing to brute-force.
func HashOf(tok string) mobileauth.Hash {
	return sha256.Sum256([]byte(tok))
}

// Equal compares two hashes in constant time.
func Equal(a, b mobileauth.Hash) bool {
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// ValidChallenge reports whether s is a well-formed S256 code challenge:
// the unpadded base64url encoding of exactly 32 bytes (43 characters).
func ValidChallenge(s string) bool {
	if len(s) != OpaqueLen {
		return false
	}
	var b [OpaqueLen]byte // decoded size is 32; the array spares an allocation
	// Strict rejects non-canonical final characters, so each challenge has
	// exactly one spelling and string comparison is meaningful.
	n, err := base64.RawURLEncoding.Strict().Decode(b[:], []byte(s))
	return err == nil && n == sha256.Size
}

// VerifyPKCE reports whether verifier matches an S256 challenge (RFC 7636
// §4.6): base64url(SHA-256(verifier)) == challenge. A verifier outside the
// RFC's alphabet or its 43–128 length is refused outright.
func VerifyPKCE(challenge, verifier string) bool {
	if !validVerifier(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	var want [OpaqueLen]byte
	base64.RawURLEncoding.Encode(want[:], sum[:])
	// The challenge is not secret, but comparing in constant time costs
	// nothing and keeps the habit uniform.
	return subtle.ConstantTimeCompare(want[:], []byte(challenge)) == 1
}

// validVerifier applies RFC 7636 §4.1: 43–128 characters of
// [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}
