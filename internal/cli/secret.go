package cli

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
)

// secretKeyBytes is the entropy of a generated ALGA_MOBILE_SECRET_KEY:
// 384 bits, written as 64 base64 characters.
const secretKeyBytes = 48

// newSecretKey reads secretKeyBytes from rnd and encodes them as base64
// without padding (A-Z a-z 0-9 + /): never starts with "-", needs no
// quoting in a shell, an env file or YAML.
func newSecretKey(rnd io.Reader) (string, error) {
	b := make([]byte, secretKeyBytes)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return base64.RawStdEncoding.EncodeToString(b), nil
}

// runSecret is `secret`: a strong ALGA_MOBILE_SECRET_KEY on stdout (only
// the value, so that $(alga-mobile-auth secret) works), advice on stderr.
func runSecret(e Env) int {
	fs := flags("secret")
	usage := "secret\n\nPrints a new random ALGA_MOBILE_SECRET_KEY (48 bytes from the system's CSPRNG, base64).\n" +
		"Set the same value on every replica and keep it: the signing keys in the store are encrypted with it."
	if code, ok := parse(e, fs, usage, 0); !ok {
		return code
	}
	key, err := newSecretKey(rand.Reader)
	if err != nil {
		return fail(e, "secret", err)
	}
	fmt.Fprintln(e.Stdout, key)
	// keys rotate needs an existing store: on a fresh install it fails
	// ("no store"), and there is nothing to replace. On an install that ran
	// without the secret, serve seals what it kept in clear at its next
	// start; rotating also retires the signing key that was kept in clear.
	fmt.Fprintln(e.Stderr, "alga-mobile-auth secret: set this as ALGA_MOBILE_SECRET_KEY (the same on every replica) before the first 'alga-mobile-auth serve'; "+
		"only on an install that has already run without one, also run 'alga-mobile-auth keys rotate' where serve runs "+
		"(its next start seals the keys kept in clear; rotating replaces the signing key that was kept in clear)")
	return ExitOK
}
