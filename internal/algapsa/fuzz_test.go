package algapsa

import (
	"regexp"
	"testing"
)

var keyShape = regexp.MustCompile(`^[0-9a-f]{64}$`)

// FuzzInputGuards holds the two checks that stand between untrusted input
// (a presented access key; ids from a cookie or token metadata) and SQL:
// isKeyShaped is exactly "64 lower-case hex characters", and every string
// validUUID lets through has a canonical form of 36 characters.
func FuzzInputGuards(f *testing.F) {
	for _, s := range []string{"", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
		"{6ba7b810-9dad-11d1-80b4-00c04fd430c8}", "urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8",
		"6ba7b8109dad11d180b400c04fd430c8", "x'; DROP TABLE users; --"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isKeyShaped(s), keyShape.MatchString(s); got != want {
			t.Fatalf("isKeyShaped(%q) = %v, want %v", s, got, want)
		}
		if validUUID(s) {
			if c := canonicalUUID(s); len(c) != 36 {
				t.Fatalf("canonicalUUID(%q) = %q", s, c)
			}
		}
	})
}
