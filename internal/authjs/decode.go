package authjs

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
)

// Leeway is the clock tolerance of Auth.js' own decode (`clockTolerance: 15`):
// a cookie whose `exp` lies less than this in the past is still accepted.
const Leeway = 15 * time.Second

// The only JWE Auth.js' encode writes.
const (
	algDir    = "dir"
	encCBC512 = "A256CBC-HS512"
	keyBytes  = 64 // A256CBC-HS512: 32 bytes MAC key + 32 bytes AES key
	ivBytes   = 16
	tagBytes  = 32
)

// cookieNameRE is RFC 6265's cookie-name (an RFC 7230 token), the rule
// Auth.js' cookie serializer enforces.
var cookieNameRE = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")

// DeriveKey returns the 64-byte A256CBC-HS512 key Auth.js derives for a
// cookie: HKDF-SHA256 of the secret, salt = the cookie name, info =
// "Auth.js Generated Encryption Key (<cookie name>)".
func DeriveKey(secret, cookieName string) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, []byte(secret), []byte(cookieName),
		"Auth.js Generated Encryption Key ("+cookieName+")", keyBytes)
	if err != nil {
		return nil, fmt.Errorf("authjs: deriving the key: %w", err)
	}
	return key, nil
}

// KeyID returns the `kid` Auth.js writes for a key: its RFC 7638 JWK
// thumbprint ({"k":…,"kty":"oct"}) under SHA-512, base64url.
func KeyID(key []byte) string {
	jwk := `{"k":"` + base64.RawURLEncoding.EncodeToString(key) + `","kty":"oct"}`
	sum := sha512.Sum512([]byte(jwk))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Decoder reads one web app's session cookie. It is safe for concurrent use.
type Decoder struct {
	name string
	key  []byte
	kid  string
	now  func() time.Time
}

// NewDecoder returns a decoder for the session cookie named cookieName (see
// CookieName), encrypted under secret (the web app's NEXTAUTH_SECRET), whose
// expiry is judged by now.
func NewDecoder(secret, cookieName string, now func() time.Time) (*Decoder, error) {
	switch {
	case secret == "":
		return nil, errors.New("authjs: the secret is empty")
	case !cookieNameRE.MatchString(cookieName):
		return nil, errors.New("authjs: the cookie name is not a valid cookie name")
	case now == nil:
		return nil, errors.New("authjs: no clock")
	}
	key, err := DeriveKey(secret, cookieName)
	if err != nil {
		return nil, err
	}
	return &Decoder{name: cookieName, key: key, kid: KeyID(key), now: now}, nil
}

// CookieName returns the name of the cookie the decoder reads.
func (d *Decoder) CookieName() string { return d.name }

// Decode finds the session cookie among cookies (name → value, as the
// request carried them), joins its chunks, decrypts and checks it. It returns
// ErrNoCookie when there is no such cookie, and an error matching ErrInvalid
// (and one of the reasons above) when there is one that is refused.
func (d *Decoder) Decode(cookies map[string]string) (Session, error) {
	return d.DecodeAt(cookies, d.now())
}

// DecodeAt is Decode with the time given by the caller, for callers that
// take one clock reading per request and pass it down.
func (d *Decoder) DecodeAt(cookies map[string]string, now time.Time) (Session, error) {
	value, err := joinCookie(d.name, cookies)
	if err != nil {
		return Session{}, err
	}
	payload, err := d.decrypt(value)
	if err != nil {
		return Session{}, err
	}
	var c claimSet
	if err := decodeJSONObject(payload, &c); err != nil {
		return Session{}, fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	return c.session(now)
}

// decrypt checks the compact JWE's shape and header before go-jose sees it
// (Auth.js' exact header, an empty encrypted key as `dir` requires, IV and
// tag lengths), then decrypts with the derived key.
func (d *Decoder) decrypt(value string) ([]byte, error) {
	parts := strings.Split(value, ".")
	if len(parts) != 5 {
		return nil, fmt.Errorf("%w: not a compact JWE", ErrMalformed)
	}
	rawHeader, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header is not base64url", ErrMalformed)
	}
	var h map[string]any
	if err := decodeJSONObject(rawHeader, &h); err != nil {
		return nil, fmt.Errorf("%w: header is not a JSON object", ErrMalformed)
	}
	kid, err := checkHeader(h)
	if err != nil {
		return nil, err
	}
	// Auth.js tries each of its secrets and refuses a kid that names none.
	if kid != "" && subtle.ConstantTimeCompare([]byte(kid), []byte(d.kid)) != 1 {
		return nil, fmt.Errorf("%w: kid names another key", ErrDecrypt)
	}
	if parts[1] != "" {
		return nil, fmt.Errorf("%w: dir takes no encrypted key", ErrMalformed)
	}
	if n := base64.RawURLEncoding.DecodedLen(len(parts[2])); n != ivBytes {
		return nil, fmt.Errorf("%w: IV length", ErrMalformed)
	}
	if n := base64.RawURLEncoding.DecodedLen(len(parts[4])); n != tagBytes {
		return nil, fmt.Errorf("%w: tag length", ErrMalformed)
	}
	obj, err := jose.ParseEncryptedCompact(value,
		[]jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256CBC_HS512})
	if err != nil {
		return nil, fmt.Errorf("%w: JWE does not parse", ErrMalformed)
	}
	plain, err := obj.Decrypt(d.key)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ErrDecrypt)
	}
	return plain, nil
}

// checkHeader accepts exactly what Auth.js' encode writes: alg dir, enc
// A256CBC-HS512 and an optional kid (its decode also takes A256GCM and
// jose's zip, which its encode never produces). It returns the kid.
func checkHeader(h map[string]any) (string, error) {
	var kid string
	for k, v := range h {
		s, ok := v.(string)
		switch {
		case !ok:
			return "", fmt.Errorf("%w: a parameter that is not a string", ErrHeader)
		case k == "alg" && s == algDir, k == "enc" && s == encCBC512:
		case k == "kid":
			kid = s
		case k == "alg" || k == "enc":
			return "", fmt.Errorf("%w: another alg or enc", ErrHeader)
		default:
			// The parameter's name is cookie content: not echoed.
			return "", fmt.Errorf("%w: a parameter other than alg, enc, kid", ErrHeader)
		}
	}
	if _, ok := h["alg"]; !ok {
		return "", fmt.Errorf("%w: no alg", ErrHeader)
	}
	if _, ok := h["enc"]; !ok {
		return "", fmt.Errorf("%w: no enc", ErrHeader)
	}
	return kid, nil
}

// decodeJSONObject decodes one top-level JSON object, refusing invalid UTF-8
// (jose's decoder is fatal on it) and trailing data. Numbers stay json.Number.
func decodeJSONObject(b []byte, v any) error {
	if !utf8.Valid(b) {
		return errors.New("invalid UTF-8")
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return errors.New("not an object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}
