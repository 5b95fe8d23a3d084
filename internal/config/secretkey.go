package config

import (
	"fmt"
	"math"
	"strings"
)

// MinSecretKeyBits is the least estimated entropy ALGA_MOBILE_SECRET_KEY
// must carry: it guards every signing key and server secret at rest.
const MinSecretKeyBits = 128

// knownExampleKeys are values that were published as examples (the
// Kubernetes example Secret carried the first until issue 11); a key
// copied from documentation is known to everyone who read it.
var knownExampleKeys = []string{
	"change-me-to-48-random-base64-characters-0123456789",
}

// placeholderWords mark a value someone meant to replace.
var placeholderWords = []string{"change-me", "changeme", "change_me", "replace-me", "replaceme", "placeholder", "example", "your-secret", "secret-key"}

// checkSecretKey refuses a master key that is short, a known example, or
// too predictable to hold MinSecretKeyBits by EstimateKeyBits.
func checkSecretKey(v string) error {
	const fix = "generate one with: alga-mobile-auth secret (or openssl rand -base64 48)"
	if len(v) < 32 {
		return fmt.Errorf("must be at least 32 characters; %s", fix)
	}
	lower := strings.ToLower(v)
	for _, k := range knownExampleKeys {
		if lower == k {
			return fmt.Errorf("is a published example value, known to anyone; %s", fix)
		}
	}
	for _, w := range placeholderWords {
		if strings.Contains(lower, w) {
			return fmt.Errorf("looks like a placeholder (contains %q); %s", w, fix)
		}
	}
	if bits := EstimateKeyBits(v); bits < MinSecretKeyBits {
		return fmt.Errorf("is too predictable: about %d bits of entropy by a simple estimate, at least %d needed; %s", int(bits), MinSecretKeyBits, fix)
	}
	return nil
}

// EstimateKeyBits is a deliberately simple, conservative entropy estimate:
// the Shannon entropy of the key's own character distribution (with the
// Miller–Madow correction for a short sample), times the number of
// characters that add something. A character adds nothing when it only
// continues a run — its step from the previous one repeats the step
// before ("aaaa", "1234", "abcd") — or ends a 4-character sequence seen
// earlier in the key (a repeated block). Random base64 of 48 bytes scores
// about 350 bits, of 24 bytes about 160; 32 × "a" scores 0.
func EstimateKeyBits(s string) float64 {
	rs := []rune(s)
	n := len(rs)
	if n == 0 {
		return 0
	}
	counts := map[rune]int{}
	for _, r := range rs {
		counts[r]++
	}
	perChar := float64(len(counts)-1) / (2 * float64(n) * math.Ln2)
	for _, c := range counts {
		p := float64(c) / float64(n)
		perChar -= p * math.Log2(p)
	}
	seen := map[string]bool{}
	effective := 0
	for i := range rs {
		repeated := false
		if i >= 3 {
			g := string(rs[i-3 : i+1])
			repeated = seen[g]
			seen[g] = true
		}
		run := i >= 2 && rs[i]-rs[i-1] == rs[i-1]-rs[i-2]
		if !repeated && !run {
			effective++
		}
	}
	return perChar * float64(effective)
}
