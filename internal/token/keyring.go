package token

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoSigningKey: the keyring holds no private key it may sign with.
var ErrNoSigningKey = errors.New("no usable signing key")

// publishSkew pads every publication window for clock differences between
// replicas and for the verifier's leeway.
const publishSkew = time.Minute

// Defaults for KeyringOptions.
const (
	DefaultAccessTTL    = 15 * time.Minute
	DefaultRefreshEvery = 30 * time.Second
)

// KeyringOptions tune a Keyring; zero fields take defaults.
type KeyringOptions struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Rand feeds key generation (default crypto/rand.Reader).
	Rand io.Reader
	// AccessTTL is the access-token lifetime; a retired key stays published
	// for that long, plus RefreshEvery and a minute of clock skew (default
	// DefaultAccessTTL).
	AccessTTL time.Duration
	// RefreshEvery is how often Run re-reads the store so that replicas
	// learn rotations (default DefaultRefreshEvery). It is also how long a
	// new key is published before any replica signs with it, so that every
	// replica can verify the first token it signs.
	RefreshEvery time.Duration
	// Logger receives Run's reload failures (default: discarded).
	Logger *slog.Logger
}

// Keyring holds the parsed signing keys of the store: the key to sign
// with and every public key still published. It is safe for concurrent
// use; readers never block, because a reload swaps an immutable snapshot.
type Keyring struct {
	src      KeySource
	opts     KeyringOptions
	reloadMu sync.Mutex // one reload at a time, so an older read never wins
	set      atomic.Pointer[keySet]
}

// keySet is an immutable snapshot of the store's keys.
type keySet struct {
	byKID   map[string]*publishedKey
	ordered []*publishedKey // newest first, for the JWKS
	signers []*publishedKey // keys with a private half, newest first
}

// publishedKey is a parsed key with its publication deadline and JWK.
type publishedKey struct {
	parsedKey
	until time.Time // zero while active: published indefinitely
	jwk   []byte    // its RFC 7517 member, rendered once
}

func (p *publishedKey) publishedAt(now time.Time) bool {
	return p.until.IsZero() || now.Before(p.until)
}

// NewKeyring loads the keys of src. If none may sign, it generates one and
// stores it. Replicas starting together may each add a key: the store makes
// the last one active, and since every replica re-reads after adding and
// verification accepts any published key, tokens verify everywhere.
func NewKeyring(ctx context.Context, src KeySource, o KeyringOptions) (*Keyring, error) {
	if src == nil {
		return nil, errors.New("keyring: nil key source")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.AccessTTL == 0 {
		o.AccessTTL = DefaultAccessTTL
	}
	if o.RefreshEvery == 0 {
		o.RefreshEvery = DefaultRefreshEvery
	}
	if o.AccessTTL < 0 || o.RefreshEvery < 0 {
		return nil, errors.New("keyring: negative AccessTTL or RefreshEvery")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	k := &Keyring{src: src, opts: o}
	set, err := k.load(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := set.signer(o.Now(), o.RefreshEvery); err != nil {
		if _, err := Rotate(ctx, src, o.Now(), o.Rand); err != nil {
			return nil, fmt.Errorf("keyring: first key: %w", err)
		}
		if set, err = k.load(ctx); err != nil {
			return nil, err
		}
		if _, err := set.signer(o.Now(), o.RefreshEvery); err != nil {
			return nil, fmt.Errorf("keyring: after generating a key: %w", err)
		}
	}
	k.set.Store(set)
	return k, nil
}

// Reload re-reads the store. On failure, or if the store holds no key to
// sign with, the keyring keeps its previous keys and reports the error.
func (k *Keyring) Reload(ctx context.Context) error {
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	set, err := k.load(ctx)
	if err != nil {
		return err
	}
	if _, err := set.signer(k.opts.Now(), k.opts.RefreshEvery); err != nil {
		return fmt.Errorf("keyring reload: %w; keeping the previous keys", err)
	}
	k.set.Store(set)
	return nil
}

// Run reloads the keys every RefreshEvery until ctx is done, logging
// failures; the previous keys stay in use meanwhile.
func (k *Keyring) Run(ctx context.Context) {
	t := time.NewTicker(k.opts.RefreshEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.Reload(ctx); err != nil && ctx.Err() == nil {
				k.opts.Logger.Error("reload signing keys", "err", err)
			}
		}
	}
}

// AccessTTL is the access-token lifetime the keyring publishes keys for.
func (k *Keyring) AccessTTL() time.Duration { return k.opts.AccessTTL }

// load reads and parses every key of the store.
func (k *Keyring) load(ctx context.Context) (*keySet, error) {
	keys, err := k.src.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keyring: list signing keys: %w", err)
	}
	window := k.opts.AccessTTL + k.opts.RefreshEvery + publishSkew
	set := &keySet{byKID: make(map[string]*publishedKey, len(keys))}
	for _, sk := range keys {
		p, err := parseKey(sk)
		if err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
		if _, dup := set.byKID[p.kid]; dup {
			continue
		}
		pk := &publishedKey{parsedKey: p, jwk: renderJWK(p.kid, p.pub)}
		if p.retiredAt != nil {
			pk.until = p.retiredAt.Add(window)
		}
		set.byKID[p.kid] = pk
		set.ordered = append(set.ordered, pk)
	}
	// The store promises newest first; sort anyway, since signing depends on it.
	slices.SortStableFunc(set.ordered, func(a, b *publishedKey) int {
		return b.createdAt.Compare(a.createdAt)
	})
	for _, pk := range set.ordered {
		if pk.priv != nil {
			set.signers = append(set.signers, pk)
		}
	}
	return set, nil
}

// signer picks the key to sign with at now: the newest published key that
// has been known for at least propagation (so every replica has re-read it
// and can verify its tokens), else the newest published key at all (a
// fresh install, where the first key is the only one).
func (s *keySet) signer(now time.Time, propagation time.Duration) (*publishedKey, error) {
	var newest *publishedKey
	for _, k := range s.signers {
		if !k.publishedAt(now) {
			continue
		}
		if newest == nil {
			newest = k
		}
		if !now.Before(k.createdAt.Add(propagation)) {
			return k, nil
		}
	}
	if newest == nil {
		return nil, ErrNoSigningKey
	}
	return newest, nil
}

// signer returns the current signing key (see keySet.signer).
func (k *Keyring) signer(now time.Time) (*publishedKey, error) {
	return k.set.Load().signer(now, k.opts.RefreshEvery)
}

// publicKey returns the key named kid if it is published at now. A key
// that has left the JWKS verifies nothing, so what this service accepts and
// what it tells others to accept never differ.
func (k *Keyring) publicKey(kid string, now time.Time) (ed25519.PublicKey, bool) {
	pk, ok := k.set.Load().byKID[kid]
	if !ok || !pk.publishedAt(now) {
		return nil, false
	}
	return pk.pub, true
}

// JWKS renders the RFC 7517 key set published at now: the active key (and
// a newer one not yet signing) plus retired keys whose tokens may still be
// unexpired.
func (k *Keyring) JWKS(now time.Time) []byte {
	set := k.set.Load()
	buf := make([]byte, 0, 16+len(set.ordered)*160)
	buf = append(buf, `{"keys":[`...)
	first := true
	for _, pk := range set.ordered {
		if !pk.publishedAt(now) {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, pk.jwk...)
	}
	return append(buf, "]}"...)
}

// renderJWK renders one member of the JWKS (RFC 8037 §2 for OKP keys).
// Built by hand: kid and x are base64url (parseKey checked that the kid is
// the thumbprint), so nothing needs escaping.
func renderJWK(kid string, pub ed25519.PublicKey) []byte {
	return []byte(`{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(pub) +
		`","kid":"` + kid + `","use":"sig","alg":"` + Algorithm + `"}`)
}
