package license

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Keys maps a key id (the "kid" of a license's JWS header) to one of the
// vendor's P-256 public keys. Every key in it is P-256: LoadKeys, ParseJWKS
// and ParsePEM refuse anything else, and Verify re-checks.
type Keys map[string]*ecdsa.PublicKey

// maxKeyFileSize bounds what LoadKeys reads from one file: a JWKS of a few
// public keys is a few KiB, so anything near this is a wrong path, not keys.
const maxKeyFileSize = 1 << 20

// pemSuffix is the extension of key files in a key directory; the file name
// without it is the kid.
const pemSuffix = ".pem"

// ErrNoKeys is what LoadKeys's error wraps when its path holds no key at
// all: an empty directory (such as the mount of an optional Kubernetes
// ConfigMap that does not exist) or a JWK Set without keys. A path that
// does not exist wraps fs.ErrNotExist instead; NoKeys covers both.
var ErrNoKeys = errors.New("no license public keys")

// noKeysError keeps LoadKeys's own words while matching ErrNoKeys.
type noKeysError struct{ msg string }

func (e noKeysError) Error() string        { return e.msg }
func (e noKeysError) Is(target error) bool { return target == ErrNoKeys }

// NoKeys reports whether err (from LoadKeys) says that the key source is
// absent or empty, as opposed to holding something that is not a key.
func NoKeys(err error) bool {
	return errors.Is(err, ErrNoKeys) || errors.Is(err, fs.ErrNotExist)
}

// LoadKeys reads the vendor's license public keys from path, the value of
// ALGA_LICENSE_PUBLIC_KEYS. The path is either
//   - a JWKS file (RFC 7517 JWK Set) of EC P-256 keys, each with a "kid"; or
//   - a directory of <kid>.pem files, each one PKIX "PUBLIC KEY" PEM block.
//
// In a directory, names starting with "." (such as the ..data links of a
// Kubernetes secret mount) and names not ending in ".pem" are ignored, and
// symbolic links are followed. Every error names the offending file. A path
// that yields no key at all is an error: the operator meant to configure
// keys and did not.
func LoadKeys(path string) (Keys, error) {
	if strings.TrimSpace(path) == "" {
		return nil, errors.New("license public keys: no path given")
	}
	fi, err := os.Stat(path)
	if err != nil {
		// The *PathError already names the path.
		return nil, fmt.Errorf("license public keys: %w", err)
	}
	if fi.IsDir() {
		return loadPEMDir(path)
	}
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		return nil, fmt.Errorf("license public keys %s: this is a PEM file, not a JWKS; "+
			"put it in a directory named <kid>.pem and point at the directory", path)
	}
	keys, err := ParseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("license public keys %s: %w", path, err)
	}
	return keys, nil
}

// loadPEMDir reads every <kid>.pem file of dir.
func loadPEMDir(dir string) (Keys, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("license public keys: %w", err)
	}
	keys := Keys{}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, pemSuffix) {
			continue
		}
		p := filepath.Join(dir, name)
		// Stat, not e.Type(): mounted secrets are symbolic links to files.
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("license public key: %w", err)
		}
		if fi.IsDir() {
			continue
		}
		data, err := readKeyFile(p)
		if err != nil {
			return nil, err
		}
		key, err := ParsePEM(data)
		if err != nil {
			return nil, fmt.Errorf("license public key %s: %w", p, err)
		}
		keys[strings.TrimSuffix(name, pemSuffix)] = key
	}
	if len(keys) == 0 {
		return nil, noKeysError{fmt.Sprintf("license public keys: no <kid>%s files in %s", pemSuffix, dir)}
	}
	return keys, nil
}

// readKeyFile reads at most maxKeyFileSize bytes of path.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the key file or directory the operator configured; reading it is the point
	if err != nil {
		return nil, fmt.Errorf("license public keys: %w", err)
	}
	defer func() { _ = f.Close() }() // read only: nothing to lose on Close
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("license public keys %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("license public keys %s: larger than %d bytes; not a key file", path, maxKeyFileSize)
	}
	return data, nil
}

// ParsePEM parses one PKIX "PUBLIC KEY" PEM block holding an EC P-256 key.
// The file must hold exactly one PEM block: a second one would leave it
// unclear which key the kid names.
func ParsePEM(data []byte) (*ecdsa.PublicKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New(`no PEM block found; want "-----BEGIN PUBLIC KEY-----"`)
	}
	if block.Type != "PUBLIC KEY" {
		if strings.Contains(block.Type, "PRIVATE") {
			return nil, fmt.Errorf("PEM block is a %s; give only the public key (PUBLIC KEY)", block.Type)
		}
		return nil, fmt.Errorf("PEM block is %q, want \"PUBLIC KEY\"", block.Type)
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, errors.New("more than one PEM block; put one key per <kid>.pem file")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return requireP256(pub)
}

// requireP256 refuses every key but an ECDSA P-256 one, naming what it got:
// licenses are ES256 only.
func requireP256(pub any) (*ecdsa.PublicKey, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("EC key on curve %s; licenses are ES256, want P-256", k.Curve.Params().Name)
		}
		return k, nil
	case *rsa.PublicKey:
		return nil, errors.New("RSA key; licenses are ES256, want an EC P-256 key")
	case ed25519.PublicKey:
		return nil, errors.New("Ed25519 key; licenses are ES256, want an EC P-256 key")
	}
	return nil, fmt.Errorf("%T key; licenses are ES256, want an EC P-256 key", pub)
}

// jwk is the subset of an RFC 7517 JSON Web Key that an EC public key uses.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// p256CoordLen is the length of a P-256 coordinate; RFC 7518 §6.2.1.2
// requires x and y to be exactly this long.
const p256CoordLen = 32

// ParseJWKS parses an RFC 7517 JWK Set whose keys are all EC P-256 public
// keys with a kid. Any other key (RSA, another curve, a private key, a key
// marked for encryption or another algorithm) is refused rather than
// skipped, so a wrong file is noticed at once.
func ParseJWKS(data []byte) (Keys, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`not a JWK Set: no "keys" array (a single JWK must be wrapped as {"keys":[...]})`)
	}
	if len(set.Keys) == 0 {
		return nil, noKeysError{`JWK Set has no keys`}
	}
	keys := make(Keys, len(set.Keys))
	for i, k := range set.Keys {
		pub, err := k.publicKey()
		if err != nil {
			return nil, fmt.Errorf("key %d (kid %q): %w", i, k.Kid, err)
		}
		if _, dup := keys[k.Kid]; dup {
			return nil, fmt.Errorf("key %d: kid %q appears twice", i, k.Kid)
		}
		keys[k.Kid] = pub
	}
	return keys, nil
}

// publicKey checks k and decodes its point.
func (k jwk) publicKey() (*ecdsa.PublicKey, error) {
	switch {
	case k.Kid == "":
		return nil, errors.New(`no "kid"; licenses select their key by kid`)
	case k.Kty != "EC":
		return nil, fmt.Errorf("kty %q; licenses are ES256, want an EC P-256 key", k.Kty)
	case k.Crv != "P-256":
		return nil, fmt.Errorf("crv %q; licenses are ES256, want P-256", k.Crv)
	case k.D != "":
		// Never echo the value: it is the vendor's private key.
		return nil, errors.New(`holds a private key ("d"); give only the public key`)
	case k.Use != "" && k.Use != "sig":
		return nil, fmt.Errorf(`use %q; want "sig"`, k.Use)
	case k.Alg != "" && k.Alg != "ES256":
		return nil, fmt.Errorf(`alg %q; want "ES256"`, k.Alg)
	}
	x, err := decodeCoord("x", k.X)
	if err != nil {
		return nil, err
	}
	y, err := decodeCoord("y", k.Y)
	if err != nil {
		return nil, err
	}
	// Uncompressed SEC 1 point: 0x04 || x || y. The parser checks that the
	// point lies on the curve, which defeats invalid-curve keys.
	point := append(append([]byte{4}, x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, fmt.Errorf("not a valid P-256 point: %w", err)
	}
	return pub, nil
}

// decodeCoord decodes one base64url (unpadded) coordinate of exactly
// p256CoordLen bytes.
func decodeCoord(name, s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not unpadded base64url: %w", name, err)
	}
	if len(b) != p256CoordLen {
		return nil, fmt.Errorf("%q is %d bytes, want %d", name, len(b), p256CoordLen)
	}
	return b, nil
}
