package license

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

// jwkOf is the JWK of s's public key, with extra fields merged in (a nil
// value deletes a field).
func jwkOf(tb testing.TB, s signer, extra ...any) map[string]any {
	tb.Helper()
	b, err := s.key.PublicKey.Bytes()
	require.NoError(tb, err)
	k := map[string]any{
		"kty": "EC", "crv": "P-256", "kid": s.kid, "use": "sig", "alg": "ES256",
		"x": base64.RawURLEncoding.EncodeToString(b[1:33]),
		"y": base64.RawURLEncoding.EncodeToString(b[33:]),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == nil {
			delete(k, extra[i].(string))
			continue
		}
		k[extra[i].(string)] = extra[i+1]
	}
	return k
}

// jwksJSON marshals a JWK Set of the given keys.
func jwksJSON(tb testing.TB, keys ...map[string]any) []byte {
	tb.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	require.NoError(tb, err)
	return b
}

// writeFile writes data to dir/name and returns the path.
func writeFile(tb testing.TB, dir, name string, data []byte) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	require.NoError(tb, os.WriteFile(p, data, 0o600))
	return p
}

func TestLoadKeysReadsAJWKSFile(t *testing.T) {
	v1, v2 := newSigner(t, "v1"), newSigner(t, "v2")
	p := writeFile(t, t.TempDir(), "keys.json", jwksJSON(t,
		jwkOf(t, v1),
		jwkOf(t, v2, "use", nil, "alg", nil), // use and alg are optional
	))

	keys, err := LoadKeys(p)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	assert.True(t, keys["v1"].Equal(&v1.key.PublicKey))
	assert.True(t, keys["v2"].Equal(&v2.key.PublicKey))
}

func TestLoadKeysReadsAPEMDirectory(t *testing.T) {
	v1, v2, v3 := newSigner(t, "v1"), newSigner(t, "v2"), newSigner(t, "v3")
	dir := t.TempDir()
	writeFile(t, dir, "v1.pem", v1.publicPEM(t))
	writeFile(t, dir, "v2.pem", v2.publicPEM(t))
	// Ignored: other extensions, hidden files, directories (a Kubernetes
	// secret mount has ..data and dot-files).
	writeFile(t, dir, "README.md", []byte("not a key"))
	writeFile(t, dir, ".v9.pem", []byte("hidden"))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "..data"), 0o700))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "old.pem"), 0o700))
	// Followed: a symbolic link, as in mounted secrets.
	elsewhere := writeFile(t, t.TempDir(), "real.pem", v3.publicPEM(t))
	require.NoError(t, os.Symlink(elsewhere, filepath.Join(dir, "v3.pem")))

	keys, err := LoadKeys(dir)
	require.NoError(t, err)
	require.Len(t, keys, 3)
	assert.True(t, keys["v1"].Equal(&v1.key.PublicKey))
	assert.True(t, keys["v2"].Equal(&v2.key.PublicKey))
	assert.True(t, keys["v3"].Equal(&v3.key.PublicKey))
}

func TestLoadKeysVerifiesWhatItLoads(t *testing.T) {
	v1 := newSigner(t, "v1")
	dir := t.TempDir()
	writeFile(t, dir, "v1.pem", v1.publicPEM(t))
	keys, err := LoadKeys(dir)
	require.NoError(t, err)

	_, reason, err := Verify(v1.sign(t, licenseClaimsAt(t0)), keys, t0)
	require.NoError(t, err)
	assert.Equal(t, ReasonNone, reason)
}

func TestLoadKeysRefusesBadJWKS(t *testing.T) {
	v1 := newSigner(t, "v1")
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	d, err := v1.key.Bytes()
	require.NoError(t, err)
	privateD := base64.RawURLEncoding.EncodeToString(d)
	b64 := base64.RawURLEncoding.EncodeToString

	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{"refuses a file that is not JSON", []byte("{nope"), "not a JWK Set"},
		{"refuses a single JWK", mustJSON(t, jwkOf(t, v1)), `no "keys" array`},
		{"refuses an empty set", []byte(`{"keys":[]}`), "no keys"},
		{"refuses an RSA key", []byte(`{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}`), `kty "RSA"`},
		{"refuses a P-384 key", jwksJSON(t, jwkOf(t, v1, "crv", "P-384",
			"x", b64(p384.X.FillBytes(make([]byte, 48))), "y", b64(p384.Y.FillBytes(make([]byte, 48))))), `crv "P-384"`},
		{"refuses a key without kid", jwksJSON(t, jwkOf(t, v1, "kid", nil)), `no "kid"`},
		{"refuses a duplicate kid", jwksJSON(t, jwkOf(t, v1), jwkOf(t, newSigner(t, "v1"))), "appears twice"},
		{"refuses a private key", jwksJSON(t, jwkOf(t, v1, "d", privateD)), "private key"},
		{"refuses an encryption key", jwksJSON(t, jwkOf(t, v1, "use", "enc")), `use "enc"`},
		{"refuses another alg", jwksJSON(t, jwkOf(t, v1, "alg", "ES384")), `alg "ES384"`},
		{"refuses a short coordinate", jwksJSON(t, jwkOf(t, v1, "x", b64(make([]byte, 31)))), "31 bytes"},
		{"refuses padded base64", jwksJSON(t, jwkOf(t, v1, "x", base64.URLEncoding.EncodeToString(make([]byte, 32)))), "base64url"},
		{"refuses a point off the curve", jwksJSON(t, jwkOf(t, v1, "x", b64(make([]byte, 32)), "y", b64(make([]byte, 32)))), "P-256 point"},
		{"refuses a PEM file given as the path", v1.publicPEM(t), "PEM file, not a JWKS"},
		{"refuses an oversized file", []byte(strings.Repeat(" ", maxKeyFileSize+1)), "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "keys.json", tc.content)
			keys, err := LoadKeys(p)
			require.Error(t, err)
			assert.Nil(t, keys)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), p, "the error names the file")
			assert.NotContains(t, err.Error(), privateD, "a private key never reaches the logs")
		})
	}
}

func TestLoadKeysRefusesBadPEMFiles(t *testing.T) {
	v1 := newSigner(t, "v1")
	pkcs8, err := x509.MarshalPKCS8PrivateKey(v1.key)
	require.NoError(t, err)
	sec1, err := x509.MarshalECPrivateKey(v1.key)
	require.NoError(t, err)
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	ecPrivPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})

	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{"refuses an RSA key", readTestdata(t, "keys/rsa-public.pem"), "RSA key"},
		{"refuses a P-384 key", readTestdata(t, "keys/p384-public.pem"), "curve P-384"},
		{"refuses an Ed25519 key", readTestdata(t, "keys/ed25519-public.pem"), "Ed25519 key"},
		{"refuses a PKCS#8 private key", privPEM, "PRIVATE KEY"},
		{"refuses a SEC 1 private key", ecPrivPEM, "EC PRIVATE KEY"},
		{"refuses a certificate block", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), `"CERTIFICATE"`},
		{"refuses a file without PEM", []byte("hello"), "no PEM block"},
		{"refuses two keys in one file", append(v1.publicPEM(t), newSigner(t, "x").publicPEM(t)...), "more than one PEM block"},
		{"refuses a broken DER body", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{0x30, 0x01}}), "public key:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := writeFile(t, dir, "v1.pem", tc.content)
			keys, err := LoadKeys(dir)
			require.Error(t, err)
			assert.Nil(t, keys)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), p, "the error names the file")
			assert.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString(pkcs8)[:40])
		})
	}
}

func TestLoadKeysRefusesBadPaths(t *testing.T) {
	empty := t.TempDir()
	onlyOthers := t.TempDir()
	writeFile(t, onlyOthers, "README.md", []byte("keys go here"))
	broken := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(broken, "gone"), filepath.Join(broken, "v1.pem")))
	missing := filepath.Join(t.TempDir(), "nope.json")

	tests := []struct {
		name, path, want string
	}{
		{"refuses an empty path", "", "no path given"},
		{"refuses a blank path", "  ", "no path given"},
		{"refuses a missing path", missing, missing},
		{"refuses an empty directory", empty, "no <kid>.pem files in " + empty},
		{"refuses a directory without .pem files", onlyOthers, "no <kid>.pem files in " + onlyOthers},
		{"refuses a dangling symbolic link", broken, filepath.Join(broken, "v1.pem")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := LoadKeys(tc.path)
			require.Error(t, err)
			assert.Nil(t, keys)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// vendorKeyDir finds AlgaPSA's published license key: ALGA_TEST_VENDOR_KEYS,
// else shared/reference/license-public-keys beside the repository (the
// workspace keeps shared/ next to the checkout; any ancestor is searched so
// a clone elsewhere still finds it when the folder is there).
func vendorKeyDir() (string, bool) {
	if d := os.Getenv("ALGA_TEST_VENDOR_KEYS"); d != "" {
		return d, true
	}
	dir, err := filepath.Abs(".")
	if err != nil {
		return "", false
	}
	for {
		cand := filepath.Join(dir, "shared", "reference", "license-public-keys")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// vendorKeySHA256 is the SHA-256 of the DER (PKIX) form of kid v1.
const vendorKeySHA256 = "87b2f50be065f21fb1a8684f130c6b1571cd1da28253419bde2ae62b6801e6c6"

// The vendor's folder lives outside the repository, which ships no vendor
// key: where it is absent this test skips with a message, or fails under
// ALGA_TEST_REQUIRE_SERVICES like every other test that needs something
// from outside (.ci/run points ALGA_TEST_VENDOR_KEYS at it).
func TestLoadKeysReadsTheVendorKey(t *testing.T) {
	vendorKeyDir, ok := vendorKeyDir()
	if !ok {
		testenv.Missing(t, "AlgaPSA's published license key (shared/reference/license-public-keys)",
			"not beside this checkout; set ALGA_TEST_VENDOR_KEYS to its directory")
	}
	keys, err := LoadKeys(vendorKeyDir)
	require.NoError(t, err)
	key, ok := keys["v1"]
	require.True(t, ok, "kid v1 loads")
	assert.Equal(t, elliptic.P256(), key.Curve)

	der, err := x509.MarshalPKIXPublicKey(key)
	require.NoError(t, err)
	sum := sha256.Sum256(der)
	assert.Equal(t, vendorKeySHA256, hex.EncodeToString(sum[:]))
}

func TestParseJWKSAcceptsUnknownMembers(t *testing.T) {
	v1 := newSigner(t, "v1")
	keys, err := ParseJWKS(jwksJSON(t, jwkOf(t, v1, "x5t", "abc", "key_ops", []string{"verify"})))
	require.NoError(t, err)
	assert.Len(t, keys, 1)
}

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name)) //nolint:gosec // G304: a file of the package's testdata
	require.NoError(tb, err)
	return b
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	return b
}

// NoKeys tells an absent or empty key source (an optional Kubernetes
// ConfigMap that does not exist mounts as an empty directory) from one
// holding something that is not a key: only a configured license makes
// the former a problem, so check must be able to tell them apart.
func TestLoadKeysTellsNoKeysFromBadKeys(t *testing.T) {
	write := func(t *testing.T, name, content string) string {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
		return dir
	}
	tests := []struct {
		name   string
		path   func(t *testing.T) string
		noKeys bool
	}{
		{"empty directory", func(t *testing.T) string { return t.TempDir() }, true},
		{"directory without .pem files", func(t *testing.T) string { return write(t, "README", "keys go here") }, true},
		{"path that does not exist", func(t *testing.T) string { return filepath.Join(t.TempDir(), "license-keys") }, true},
		{"JWK Set without keys", func(t *testing.T) string {
			return filepath.Join(write(t, "jwks.json", `{"keys":[]}`), "jwks.json")
		}, true},
		{"a .pem file that is not a key", func(t *testing.T) string { return write(t, "v1.pem", "not a key") }, false},
		{"a file that is not a JWK Set", func(t *testing.T) string {
			return filepath.Join(write(t, "jwks.json", `{}`), "jwks.json")
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadKeys(tt.path(t))
			require.Error(t, err)
			assert.Equal(t, tt.noKeys, NoKeys(err), "%v", err)
			assert.NotContains(t, err.Error(), "ALGA_LICENSE_PUBLIC_KEYS", "the caller names the variable")
		})
	}
}
