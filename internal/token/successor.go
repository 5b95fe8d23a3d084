package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// MinDeriverSecret is the shortest secret NewDeriver accepts: as long as
// the HMAC-SHA256 output, so the key is never the weak link.
const MinDeriverSecret = 32

// successorLabel separates this use of the server secret from any other
// HMAC a future version might compute under the same key.
const successorLabel = "refresh-successor:"

// Deriver computes the successor of a refresh token (SPEC §3.5). Because
// the successor is a keyed function of the presented token, a retried
// refresh inside the grace period gets the very same successor back
// without the successor ever being stored in clear: the store keeps only
// its hash, and an attacker with a database dump but not the secret cannot
// compute it. A Deriver is safe for concurrent use.
type Deriver struct {
	secret []byte
}

// NewDeriver returns a Deriver keyed with a copy of secret, which must be
// at least MinDeriverSecret bytes (in production a random server secret
// shared by every replica through the store).
func NewDeriver(secret []byte) (*Deriver, error) {
	if len(secret) < MinDeriverSecret {
		return nil, errors.New("refresh successor secret: need at least 32 bytes")
	}
	return &Deriver{secret: append([]byte(nil), secret...)}, nil
}

// Successor returns base64url(HMAC-SHA256(secret, "refresh-successor:" +
// presented)), unpadded: 43 characters, the same shape as NewOpaque.
func (d *Deriver) Successor(presented string) string {
	m := hmac.New(sha256.New, d.secret)
	m.Write([]byte(successorLabel)) // hash.Hash writes never fail
	m.Write([]byte(presented))
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(m.Sum(sum[:0]))
}

// confirmLabel separates the hand-off confirmation tag from the successor.
const confirmLabel = "handoff-confirm:"

// Confirmation returns an unforgeable tag of parts (joined unambiguously):
// the CSRF token of the hand-off's cross-site confirmation page, bound to
// the web session and the hand-off's parameters.
func (d *Deriver) Confirmation(parts ...string) string {
	m := hmac.New(sha256.New, d.secret)
	m.Write([]byte(confirmLabel))
	for _, p := range parts {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		m.Write(n[:])
		m.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(m.Sum(sum[:0]))
}
