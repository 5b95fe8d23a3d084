package authjs_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authjs"
	"github.com/nineminds/alga-mobile-auth/internal/authjs/authjstest"
	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

// reasons maps the refusal names of the vector files to the decoder's errors.
var reasons = map[string]error{
	"no_cookie":     authjs.ErrNoCookie,
	"too_large":     authjs.ErrTooLarge,
	"chunks":        authjs.ErrChunks,
	"malformed":     authjs.ErrMalformed,
	"header":        authjs.ErrHeader,
	"decrypt":       authjs.ErrDecrypt,
	"expired":       authjs.ErrExpired,
	"not_yet_valid": authjs.ErrNotYetValid,
	"claims":        authjs.ErrClaims,
}

// TestCommittedVectors decodes the cookies @auth/core 0.41.3 minted into
// testdata/authjs/vectors.json, each with the clock pinned to its minting time.
func TestCommittedVectors(t *testing.T) {
	f, err := authjstest.LoadVectors(authjstest.CommittedVectors())
	require.NoError(t, err)
	assert.Equal(t, "0.41.3", f.AuthCoreVersion)
	runVectors(t, f)

	// The committed set keeps covering every case the decoder knows.
	seen := map[string]bool{}
	chunked := false
	for _, v := range f.Vectors {
		if v.Expect.Session != nil {
			seen["accepted"] = true
			chunked = chunked || len(v.Cookies) > 1
		}
		seen[v.Expect.Refusal] = true
	}
	for name := range reasons {
		assert.True(t, seen[name], "no committed vector is refused as %s", name)
	}
	assert.True(t, seen["accepted"] && chunked, "the committed vectors lack an accepted chunked session")
}

// TestFreshVectors decodes vectors minted at test time by .ci/run (npm ci in
// testdata/authjs, then mint.mjs), so the decoder is held to the @auth/core
// the lock file pins, not only to the committed snapshot.
func TestFreshVectors(t *testing.T) {
	path := os.Getenv(authjstest.VectorsEnv)
	if path == "" {
		testenv.Missing(t, "freshly minted Auth.js vectors",
			"set "+authjstest.VectorsEnv+" to the output of `npm ci && node mint.mjs <file>` in testdata/authjs; .ci/run does")
	}
	f, err := authjstest.LoadVectors(path)
	require.NoError(t, err)
	runVectors(t, f)
}

func runVectors(t *testing.T, f *authjstest.VectorFile) {
	t.Helper()
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			at := time.Unix(v.MintedAt, 0)
			d, err := authjs.NewDecoder(v.Secret, v.CookieName, func() time.Time { return at })
			require.NoError(t, err)
			s, err := d.Decode(v.Cookies)
			if want := v.Expect.Session; want != nil {
				require.NoError(t, err)
				// Never accept what Auth.js' own reader refuses.
				assert.Equal(t, "ok", v.AuthjsDecode, "Auth.js refused a cookie the decoder accepts")
				assert.Equal(t, authjs.Session{
					UserID:    want.UserID,
					Tenant:    want.Tenant,
					UserType:  want.UserType,
					Email:     want.Email,
					Name:      want.Name,
					SessionID: want.SessionID,
					IssuedAt:  time.Unix(want.IssuedAt, 0).UTC(),
					ExpiresAt: time.Unix(want.ExpiresAt, 0).UTC(),
				}, s)
				return
			}
			reason, ok := reasons[v.Expect.Refusal]
			require.True(t, ok, "unknown refusal %q in the vector file", v.Expect.Refusal)
			require.ErrorIs(t, err, reason)
			assert.Equal(t, v.Expect.Refusal != "no_cookie", errorsIsInvalid(err), "ErrInvalid iff a cookie was present")
			assert.Equal(t, authjs.Session{}, s)
			assertNoLeak(t, err, v.Secret, v.Cookies)
		})
	}
}

// assertNoLeak checks that an error names neither the secret nor any part of
// a cookie value.
func assertNoLeak(t *testing.T, err error, secret string, cookies map[string]string) {
	t.Helper()
	msg := err.Error()
	assert.NotContains(t, msg, secret)
	for _, v := range cookies {
		for i := 0; i+16 <= len(v); i += 8 {
			if strings.Contains(msg, v[i:i+16]) {
				t.Errorf("error %q quotes the cookie", msg)
				return
			}
		}
	}
}
