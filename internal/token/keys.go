package token

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// Algorithm is the JWS algorithm of every access token and signing key.
// Ed25519: deterministic signatures (no nonce to get wrong), 32-byte keys,
// and fast verification, which forward-auth performs on every request.
const Algorithm = "EdDSA"

// KeySource is the part of mobileauth.KeyStore the keyring needs.
type KeySource interface {
	// ListSigningKeys returns every key, newest first.
	ListSigningKeys(ctx context.Context) ([]mobileauth.SigningKey, error)
	// AddSigningKey stores k and retires every other active key at k.CreatedAt.
	AddSigningKey(ctx context.Context, k mobileauth.SigningKey) error
}

// Rotate generates a new Ed25519 key from rand, stores it as the active
// key (the store retires the others at now) and returns it. Its kid is the
// RFC 7638 JWK thumbprint of the public key, so a kid names exactly one key.
// Running keyrings sign with it once every replica has had time to learn
// it (see KeyringOptions.RefreshEvery).
func Rotate(ctx context.Context, src KeySource, now time.Time, rand io.Reader) (mobileauth.SigningKey, error) {
	pub, priv, err := newKeyPair(rand)
	if err != nil {
		return mobileauth.SigningKey{}, err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return mobileauth.SigningKey{}, fmt.Errorf("encode signing key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return mobileauth.SigningKey{}, fmt.Errorf("encode public key: %w", err)
	}
	k := mobileauth.SigningKey{
		KID:        Thumbprint(pub),
		Algorithm:  Algorithm,
		PrivateDER: privDER,
		PublicDER:  pubDER,
		// Microseconds: what PostgreSQL keeps, so the key reads back equal.
		CreatedAt: now.UTC().Truncate(time.Microsecond),
	}
	if err := src.AddSigningKey(ctx, k); err != nil {
		return mobileauth.SigningKey{}, fmt.Errorf("store signing key: %w", err)
	}
	return k, nil
}

// newKeyPair generates an Ed25519 key whose thumbprint (its kid) does not
// start with "-": a kid is typed as a command-line argument now and then,
// and one that starts with "-" reads as a flag. One key in 64 is drawn
// again; the kid stays the thumbprint.
func newKeyPair(rand io.Reader) (ed25519.PublicKey, ed25519.PrivateKey, error) {
	for {
		pub, priv, err := ed25519.GenerateKey(rand)
		if err != nil {
			return nil, nil, fmt.Errorf("generate signing key: %w", err)
		}
		if !strings.HasPrefix(Thumbprint(pub), "-") {
			return pub, priv, nil
		}
	}
}

// Thumbprint returns the RFC 7638 JWK thumbprint (SHA-256, base64url) of
// an Ed25519 public key, as RFC 8037 §A.3 defines it for OKP keys.
func Thumbprint(pub ed25519.PublicKey) string {
	// Members in lexicographic order, no whitespace (RFC 7638 §3).
	canon := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// parsedKey is a stored key decoded and checked.
type parsedKey struct {
	kid       string
	pub       ed25519.PublicKey
	priv      ed25519.PrivateKey // nil for verify-only keys
	createdAt time.Time
	retiredAt *time.Time
}

// parseKey decodes a stored key and checks that it is consistent: right
// algorithm, Ed25519 DER, the private half matching the public one, and the
// kid equal to the thumbprint. The store is written only by this package,
// so any mismatch means corruption or tampering and is an error.
func parseKey(k mobileauth.SigningKey) (parsedKey, error) {
	if k.Algorithm != Algorithm {
		return parsedKey{}, fmt.Errorf("signing key %q: algorithm %q, want %s", k.KID, k.Algorithm, Algorithm)
	}
	anyPub, err := x509.ParsePKIXPublicKey(k.PublicDER)
	if err != nil {
		return parsedKey{}, fmt.Errorf("signing key %q: public key: %w", k.KID, err)
	}
	pub, ok := anyPub.(ed25519.PublicKey)
	if !ok {
		return parsedKey{}, fmt.Errorf("signing key %q: public key is %T, want Ed25519", k.KID, anyPub)
	}
	if Thumbprint(pub) != k.KID {
		return parsedKey{}, fmt.Errorf("signing key %q: kid is not the key's thumbprint", k.KID)
	}
	p := parsedKey{kid: k.KID, pub: pub, createdAt: k.CreatedAt, retiredAt: k.RetiredAt}
	if len(k.PrivateDER) == 0 {
		return p, nil
	}
	anyPriv, err := x509.ParsePKCS8PrivateKey(k.PrivateDER)
	if err != nil {
		// The parser's message never contains key material.
		return parsedKey{}, fmt.Errorf("signing key %q: private key: %w", k.KID, err)
	}
	priv, ok := anyPriv.(ed25519.PrivateKey)
	if !ok {
		return parsedKey{}, fmt.Errorf("signing key %q: private key is %T, want Ed25519", k.KID, anyPriv)
	}
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), pub) {
		return parsedKey{}, errors.New("signing key " + k.KID + ": private key does not match public key")
	}
	p.priv = priv
	return p, nil
}
