package token

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// MinMasterKey is the shortest master key accepted (ALGA_MOBILE_SECRET_KEY).
const MinMasterKey = 32

// sealedPrefix marks a private key encrypted by SealedKeys; rows without it
// are clear PKCS#8 from before a master key was configured, still readable.
var sealedPrefix = []byte("amk1:")

// ErrSealedKey: a stored private key cannot be opened (wrong master key, or
// a sealed key read without one).
var ErrSealedKey = errors.New("signing key is sealed with another master key")

// DeriveKey derives a purpose-bound 32-byte key from the operator's master
// key (HKDF-SHA256), so one configured secret yields independent keys for
// signing-key encryption, refresh successors and flow cookies.
func DeriveKey(master []byte, purpose string) ([]byte, error) {
	if len(master) < MinMasterKey {
		return nil, fmt.Errorf("master key must be at least %d bytes", MinMasterKey)
	}
	return hkdf.Key(sha256.New, master, nil, "alga-mobile-auth/"+purpose, 32)
}

// sealedKeys encrypts private signing keys at rest with AES-256-GCM (the
// kid as additional data, so a sealed key cannot be moved to another row).
type sealedKeys struct {
	src  KeySource
	aead cipher.AEAD
	rand io.Reader
}

// SealedKeys wraps src so private keys are stored encrypted under a key
// derived from master; with a nil master it returns src unchanged.
func SealedKeys(src KeySource, master []byte) (KeySource, error) {
	if master == nil {
		return src, nil
	}
	k, err := DeriveKey(master, "signing-keys")
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealedKeys{src: src, aead: aead, rand: rand.Reader}, nil
}

func (s *sealedKeys) ListSigningKeys(ctx context.Context) ([]mobileauth.SigningKey, error) {
	keys, err := s.src.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	for i := range keys {
		p := keys[i].PrivateDER
		if !bytes.HasPrefix(p, sealedPrefix) {
			continue // clear key stored before the master key was set
		}
		p = p[len(sealedPrefix):]
		n := s.aead.NonceSize()
		if len(p) < n {
			return nil, fmt.Errorf("signing key %s: %w", keys[i].KID, ErrSealedKey)
		}
		clear, err := s.aead.Open(nil, p[:n], p[n:], []byte(keys[i].KID))
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", keys[i].KID, ErrSealedKey)
		}
		keys[i].PrivateDER = clear
	}
	return keys, nil
}

func (s *sealedKeys) AddSigningKey(ctx context.Context, k mobileauth.SigningKey) error {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return err
	}
	sealed := append(append([]byte(nil), sealedPrefix...), nonce...)
	k.PrivateDER = s.aead.Seal(sealed, nonce, k.PrivateDER, []byte(k.KID))
	return s.src.AddSigningKey(ctx, k)
}
