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
	sealed, err := s.seal(k.KID, k.PrivateDER)
	if err != nil {
		return err
	}
	k.PrivateDER = sealed
	return s.src.AddSigningKey(ctx, k)
}

// seal encrypts one private key, bound to its kid.
func (s *sealedKeys) seal(kid string, der []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, err
	}
	sealed := append(append([]byte(nil), sealedPrefix...), nonce...)
	return s.aead.Seal(sealed, nonce, der, []byte(kid)), nil
}

// InClear reports whether a stored private key is kept in clear: present
// and not sealed by SealedKeys.
func InClear(privateDER []byte) bool {
	return len(privateDER) > 0 && !bytes.HasPrefix(privateDER, sealedPrefix)
}

// ResealStore is what ResealClearKeys needs of the store itself (not of
// the SealedKeys wrapper, which would hide whether a key is sealed).
type ResealStore interface {
	ListSigningKeys(ctx context.Context) ([]mobileauth.SigningKey, error)
	// ReplaceSigningKeyPrivate swaps kid's private half from old to new only
	// while it still is old, and reports whether it did.
	ReplaceSigningKeyPrivate(ctx context.Context, kid string, old, new []byte) (bool, error)
}

// ResealClearKeys seals under master every private signing key that st
// still keeps in clear (stored before a master key was configured), so a
// database dump no longer yields a key that can sign tokens. Replicas may
// run it at once: each key is swapped only while it is still clear. It
// returns how many keys this call sealed.
func ResealClearKeys(ctx context.Context, st ResealStore, master []byte) (int, error) {
	ks, err := SealedKeys(nil, master)
	if err != nil {
		return 0, err
	}
	sk, ok := ks.(*sealedKeys)
	if !ok {
		return 0, errors.New("reseal: no master key")
	}
	keys, err := st.ListSigningKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("reseal: %w", err)
	}
	n := 0
	for _, k := range keys {
		if !InClear(k.PrivateDER) {
			continue
		}
		sealed, err := sk.seal(k.KID, k.PrivateDER)
		if err != nil {
			return n, fmt.Errorf("reseal signing key %s: %w", k.KID, err)
		}
		done, err := st.ReplaceSigningKeyPrivate(ctx, k.KID, k.PrivateDER, sealed)
		if err != nil {
			return n, fmt.Errorf("reseal: %w", err)
		}
		if done {
			n++
		}
	}
	return n, nil
}
