package authjs_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authjs"
	"github.com/nineminds/alga-mobile-auth/internal/authjs/authjstest"
)

// fuzzSecret and fuzzTime are fixed so that the seed corpus in
// testdata/fuzz/FuzzDecode holds cookies that decode, whose mutations
// reach the crypto and claims code, not only the parsers in front of it.
const fuzzSecret = "fuzz-secret-for-authjs-decode-tests"

var fuzzTime = time.Unix(1796547600, 0) // 2026-12-06 09:00 UTC

// FuzzDecode feeds untrusted cookie values (a whole cookie and two chunks)
// to Decode: it must never panic, must answer with a session or with one of
// its two error families, and must never quote a long input in its error.
func FuzzDecode(f *testing.F) {
	f.Add("", "", "")
	f.Add("not-a-session-token", "", "")
	f.Add("a.b.c.d.e", "", "")
	f.Add("", "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIn0..", "AAAAAAAAAAAAAAAAAAAAAA.AAAA.AAAA")
	vf, err := authjstest.LoadVectors(authjstest.CommittedVectors())
	require.NoError(f, err)
	for _, v := range vf.Vectors {
		if w := v.Cookies[authjs.SecureCookieName]; w != "" {
			f.Add(w, "", "")
		}
	}
	valid, err := authjstest.Encode(authjstest.Token{
		Secret: fuzzSecret, CookieName: authjs.SecureCookieName, Now: fuzzTime, MaxAge: time.Hour,
		Claims: map[string]any{"id": "u", "tenant": "t", "user_type": "internal", "session_id": "s"},
	})
	require.NoError(f, err)
	f.Add(valid, "", "")
	f.Add("", valid[:len(valid)/2], valid[len(valid)/2:])

	d, err := authjs.NewDecoder(fuzzSecret, authjs.SecureCookieName, func() time.Time { return fuzzTime })
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, whole, chunk0, chunk1 string) {
		cookies := map[string]string{
			authjs.SecureCookieName:        whole,
			authjs.SecureCookieName + ".0": chunk0,
			authjs.SecureCookieName + ".1": chunk1,
		}
		s, err := d.Decode(cookies)
		if err == nil {
			if s.UserID == "" || s.Tenant == "" || s.SessionID == "" || (s.UserType != "internal" && s.UserType != "client") {
				t.Fatalf("accepted a session without its required claims: %+v", s)
			}
			if !s.ExpiresAt.After(fuzzTime.Add(-authjs.Leeway)) {
				t.Fatalf("accepted an expired session: %v", s.ExpiresAt)
			}
			return
		}
		if !errors.Is(err, authjs.ErrNoCookie) && !errors.Is(err, authjs.ErrInvalid) {
			t.Fatalf("error outside both families: %v", err)
		}
		if errors.Is(err, authjs.ErrNoCookie) == errors.Is(err, authjs.ErrInvalid) {
			t.Fatalf("error in both families or neither: %v", err)
		}
		for _, in := range []string{whole, chunk0, chunk1} {
			if len(in) >= 100 && strings.Contains(err.Error(), in) {
				t.Fatalf("error quotes its input")
			}
		}
	})
}
