// Package authjstest mints Auth.js v5 session cookies the way @auth/core
// 0.41.3 does (its `encode` and its cookie chunking), so that tests (the
// authflow use cases, the end-to-end stub of AlgaPSA's web app) can present
// a real web-app session. Test use only: a service never mints these.
//
// Faithfulness is proven against the vectors minted by @auth/core itself in
// testdata/authjs at the repository root: same protected header bytes, same
// chunk names and lengths, and Auth.js' own reader accepts what this writes.
package authjstest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/nineminds/alga-mobile-auth/internal/authjs"
)

// DefaultMaxAge is Auth.js' default session lifetime (30 days).
// AlgaPSA sets 24 hours unless NEXTAUTH_SESSION_EXPIRES says otherwise.
const DefaultMaxAge = 30 * 24 * time.Hour

// Token describes one session cookie to mint.
type Token struct {
	// Secret is the web app's NEXTAUTH_SECRET; CookieName its session cookie
	// name, which is also the key derivation's salt.
	Secret     string
	CookieName string
	// Claims are the session's claims (AlgaPSA writes id, sub, tenant,
	// user_type, email, name, session_id, …). As in Auth.js, iat, exp and
	// jti are always overwritten.
	Claims map[string]any
	// Now is the minting time (iat); exp is Now + MaxAge. Required: pass the
	// test's clock, so the decoder under test can be pinned to the same one.
	Now time.Time
	// MaxAge is the lifetime; zero means DefaultMaxAge. Negative values mint
	// an already expired cookie, as Auth.js' encode does.
	MaxAge time.Duration
	// OmitKeyID leaves `kid` out of the header (Auth.js' decode accepts that;
	// its encode always writes it).
	OmitKeyID bool
}

// Encode returns the cookie value Auth.js' encode would write for t: a
// compact JWE, header {"alg":"dir","enc":"A256CBC-HS512","kid":<thumbprint>}.
func Encode(t Token) (string, error) {
	if t.Secret == "" || t.CookieName == "" || t.Now.IsZero() {
		return "", errors.New("authjstest: secret, cookie name and minting time are required")
	}
	maxAge := t.MaxAge
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	key, err := authjs.DeriveKey(t.Secret, t.CookieName)
	if err != nil {
		return "", err
	}
	opts := &jose.EncrypterOptions{}
	if !t.OmitKeyID {
		opts = opts.WithHeader(jose.HeaderKey("kid"), authjs.KeyID(key))
	}
	enc, err := jose.NewEncrypter(jose.A256CBC_HS512, jose.Recipient{Algorithm: jose.DIRECT, Key: key}, opts)
	if err != nil {
		return "", fmt.Errorf("authjstest: encrypter: %w", err)
	}
	payload, err := payloadJSON(t.Claims, t.Now, maxAge)
	if err != nil {
		return "", err
	}
	obj, err := enc.Encrypt(payload)
	if err != nil {
		return "", fmt.Errorf("authjstest: encrypt: %w", err)
	}
	return obj.CompactSerialize()
}

// payloadJSON is the claims with Auth.js' iat, exp (whole seconds) and a
// random UUID jti, serialized without HTML escaping, as JSON.stringify does.
func payloadJSON(claims map[string]any, now time.Time, maxAge time.Duration) ([]byte, error) {
	m := make(map[string]any, len(claims)+3)
	for k, v := range claims {
		m[k] = v
	}
	iat := now.Unix()
	m["iat"] = iat
	m["exp"] = iat + int64(maxAge/time.Second)
	id, err := uuid.NewRandomFromReader(rand.Reader)
	if err != nil {
		return nil, err
	}
	m["jti"] = id.String()
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(m); err != nil {
		return nil, fmt.Errorf("authjstest: claims: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Chunk cuts a cookie value as Auth.js' SessionStore does when it sets the
// cookie: one cookie named name when the value fits in authjs.ChunkSize
// characters, else name.0, name.1, … of ChunkSize characters each.
func Chunk(name, value string) map[string]string {
	if len(value) <= authjs.ChunkSize {
		return map[string]string{name: value}
	}
	out := make(map[string]string)
	for i := 0; i*authjs.ChunkSize < len(value); i++ {
		end := min((i+1)*authjs.ChunkSize, len(value))
		out[name+"."+strconv.Itoa(i)] = value[i*authjs.ChunkSize : end]
	}
	return out
}

// Cookies mints t and returns its cookies, chunked as Auth.js would set them.
func Cookies(t Token) (map[string]string, error) {
	v, err := Encode(t)
	if err != nil {
		return nil, err
	}
	return Chunk(t.CookieName, v), nil
}
