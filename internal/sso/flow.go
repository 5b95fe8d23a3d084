package sso

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Flow is one sign-in in progress: what the browser must bring back to the
// callback. It travels in a short-lived HttpOnly cookie sealed by SealFlow.
type Flow struct {
	Provider ID `json:"p"`
	// State is the OAuth state sent to the provider and compared with the
	// callback's (CSRF defence).
	State string `json:"s"`
	// Nonce is sent to the provider and must come back in the ID token
	// (replay defence).
	Nonce string `json:"n"`
	// Verifier is the PKCE code verifier; only its S256 challenge leaves us.
	Verifier string `json:"v"`
	// CallbackURL is where the browser goes after signing in (the sign-in
	// page's callbackUrl, already checked same-origin by the caller).
	CallbackURL string `json:"c,omitempty"`
	// Expires bounds the whole round trip through the provider.
	Expires time.Time `json:"e"`
}

// flowSecretBytes is the entropy of state, nonce and verifier: 256 bits,
// base64url without padding (43 characters, a valid RFC 7636 verifier).
const flowSecretBytes = 32

// NewFlow starts a sign-in with provider: fresh random state, nonce and
// PKCE verifier read from r (crypto/rand.Reader in production), expiring
// ttl after now.
func NewFlow(r io.Reader, provider ID, callbackURL string, now time.Time, ttl time.Duration) (Flow, error) {
	if ttl <= 0 {
		return Flow{}, fmt.Errorf("sso: flow ttl must be positive, got %s", ttl)
	}
	var vals [3]string
	for i := range vals {
		b := make([]byte, flowSecretBytes)
		if _, err := io.ReadFull(r, b); err != nil {
			return Flow{}, fmt.Errorf("sso: reading randomness: %w", err)
		}
		vals[i] = base64.RawURLEncoding.EncodeToString(b)
	}
	return Flow{
		Provider:    provider,
		State:       vals[0],
		Nonce:       vals[1],
		Verifier:    vals[2],
		CallbackURL: callbackURL,
		Expires:     now.Add(ttl).UTC().Truncate(time.Second),
	}, nil
}

// CheckState compares the callback's state with the flow's in constant
// time; a mismatch (or an empty state) is ErrStateMismatch.
func (f Flow) CheckState(state string) error {
	if f.State == "" || subtle.ConstantTimeCompare([]byte(f.State), []byte(state)) != 1 {
		return ErrStateMismatch
	}
	return nil
}

// Cookie sealing. The value is "v1." + base64url(nonce || AES-256-GCM
// ciphertext). GCM both authenticates (no tampering) and hides the PKCE
// verifier and nonce from anything that logs cookies. The AES key is
// derived from the caller's key with HMAC-SHA256 under a fixed label, so
// the same server secret can serve other purposes without key reuse.
const (
	flowPrefix = "v1."
	flowLabel  = "alga-mobile-auth/sso-flow/v1"
	// MaxSealedFlowLen keeps the cookie well under browsers' 4096-byte
	// limit for name, value and attributes together.
	MaxSealedFlowLen = 3500
)

// SealFlow encrypts and authenticates f for a cookie value. key must be at
// least 32 bytes; a result longer than MaxSealedFlowLen (an oversized
// CallbackURL) is refused rather than silently dropped by the browser.
func SealFlow(key []byte, f Flow) (string, error) {
	aead, err := flowAEAD(key)
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("sso: encoding flow: %w", err)
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return "", fmt.Errorf("sso: reading randomness: %w", err)
	}
	sealed := aead.Seal(nonce, nonce, plain, []byte(flowLabel))
	v := flowPrefix + base64.RawURLEncoding.EncodeToString(sealed)
	if len(v) > MaxSealedFlowLen {
		return "", fmt.Errorf("sso: sealed flow is %d bytes, over %d (callback URL too long)", len(v), MaxSealedFlowLen)
	}
	return v, nil
}

// OpenFlow authenticates and decrypts a cookie value made by SealFlow. It
// refuses anything malformed or tampered (ErrFlowInvalid) and a flow whose
// Expires is not after now (ErrFlowExpired).
func OpenFlow(key []byte, v string, now time.Time) (Flow, error) {
	aead, err := flowAEAD(key)
	if err != nil {
		return Flow{}, err
	}
	if len(v) > MaxSealedFlowLen || !strings.HasPrefix(v, flowPrefix) {
		return Flow{}, fmt.Errorf("%w: bad format", ErrFlowInvalid)
	}
	sealed, err := base64.RawURLEncoding.DecodeString(v[len(flowPrefix):])
	if err != nil || len(sealed) < aead.NonceSize()+aead.Overhead() {
		return Flow{}, fmt.Errorf("%w: bad encoding", ErrFlowInvalid)
	}
	ns := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:ns], sealed[ns:], []byte(flowLabel))
	if err != nil {
		return Flow{}, fmt.Errorf("%w: authentication failed", ErrFlowInvalid)
	}
	var f Flow
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Flow{}, fmt.Errorf("%w: bad payload", ErrFlowInvalid)
	}
	if f.Provider == "" || f.State == "" || f.Nonce == "" || f.Verifier == "" || f.Expires.IsZero() {
		return Flow{}, fmt.Errorf("%w: incomplete", ErrFlowInvalid)
	}
	if !now.Before(f.Expires) {
		return Flow{}, ErrFlowExpired
	}
	return f, nil
}

func flowAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) < 32 {
		return nil, ErrWeakKey
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(flowLabel))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("sso: flow cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sso: flow cipher: %w", err)
	}
	return aead, nil
}
