package authjstest_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authjs"
	"github.com/nineminds/alga-mobile-auth/internal/authjs/authjstest"
	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

func committed(t *testing.T) *authjstest.VectorFile {
	t.Helper()
	f, err := authjstest.LoadVectors(authjstest.CommittedVectors())
	require.NoError(t, err)
	return f
}

// TestHeaderMatchesAuthJS: for every cookie @auth/core's encode minted (an
// accepted vector with a kid), this encoder writes the same protected header,
// byte for byte, for the same secret and cookie name: same algorithms, same
// kid (HKDF key and its thumbprint), same parameter order.
func TestHeaderMatchesAuthJS(t *testing.T) {
	n := 0
	for _, v := range committed(t).Vectors {
		if v.Expect.Session == nil || strings.Contains(v.Name, "no kid") {
			continue
		}
		want := strings.Split(joined(v), ".")[0]
		got, err := authjstest.Encode(authjstest.Token{
			Secret: v.Secret, CookieName: v.CookieName, Now: time.Unix(v.MintedAt, 0),
			Claims: map[string]any{"id": "x"},
		})
		require.NoError(t, err)
		assert.Equal(t, want, strings.Split(got, ".")[0], v.Name)
		n++
	}
	assert.GreaterOrEqual(t, n, 4, "too few Auth.js-minted vectors to compare")
}

// TestChunkMatchesAuthJS: cutting the joined value of each multi-chunk
// vector gives exactly the cookies Auth.js' SessionStore set.
func TestChunkMatchesAuthJS(t *testing.T) {
	n := 0
	for _, v := range committed(t).Vectors {
		if len(v.Cookies) < 2 || (v.Expect.Session == nil && v.Expect.Refusal != "too_large") {
			continue
		}
		assert.Equal(t, v.Cookies, authjstest.Chunk(v.CookieName, joined(v)), v.Name)
		n++
	}
	assert.GreaterOrEqual(t, n, 2, "expected a chunked and an oversized vector")
	assert.Equal(t, map[string]string{"c": "v"}, authjstest.Chunk("c", "v"))
	exact := strings.Repeat("x", authjs.ChunkSize)
	assert.Equal(t, map[string]string{"c": exact}, authjstest.Chunk("c", exact), "a value of exactly one chunk is not cut")
}

// joined is a vector's cookie value with its chunks joined in order.
func joined(v authjstest.Vector) string {
	if w, ok := v.Cookies[v.CookieName]; ok {
		return w
	}
	var b strings.Builder
	for i := 0; ; i++ {
		c, ok := v.Cookies[v.CookieName+"."+strconv.Itoa(i)]
		if !ok {
			return b.String()
		}
		b.WriteString(c)
	}
}

// goMinted are the cookies this encoder mints for the round trips.
func goMinted(t *testing.T, now time.Time) []struct {
	name   string
	tok    authjstest.Token
	chunks int
} {
	t.Helper()
	base := func() map[string]any {
		return map[string]any{
			"id": "u-1", "sub": "u-1", "tenant": "t-1", "user_type": "internal", "session_id": "s-1",
			"email": "dana@example.com", "name": "Dana <Tech> & Co", "addons": []string{},
		}
	}
	big := base()
	big["blob"] = strings.Repeat("0123456789", 1000)
	subOnly := base()
	delete(subOnly, "id")
	return []struct {
		name   string
		tok    authjstest.Token
		chunks int
	}{
		{"small", authjstest.Token{Secret: "s3cret", CookieName: authjs.SecureCookieName, Now: now, Claims: base()}, 1},
		{"plain name", authjstest.Token{Secret: "s3cret", CookieName: authjs.PlainCookieName, Now: now, Claims: base()}, 1},
		{"chunked", authjstest.Token{Secret: "s3cret", CookieName: authjs.SecureCookieName, Now: now, Claims: big}, 4},
		{"sub only, no kid", authjstest.Token{Secret: "s3cret", CookieName: authjs.SecureCookieName, Now: now, Claims: subOnly, OmitKeyID: true}, 1},
		{"dev port suffix", authjstest.Token{Secret: "s3cret", CookieName: "authjs.session-token.3000", Now: now, Claims: base()}, 1},
	}
}

func TestRoundTrip(t *testing.T) {
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	for _, tc := range goMinted(t, now) {
		t.Run(tc.name, func(t *testing.T) {
			cookies, err := authjstest.Cookies(tc.tok)
			require.NoError(t, err)
			require.Equal(t, tc.chunks, len(cookies), "chunks")
			d, err := authjs.NewDecoder(tc.tok.Secret, tc.tok.CookieName, func() time.Time { return now })
			require.NoError(t, err)
			s, err := d.Decode(cookies)
			require.NoError(t, err)
			assert.Equal(t, authjs.Session{
				UserID: "u-1", Tenant: "t-1", UserType: "internal", SessionID: "s-1",
				Email: "dana@example.com", Name: "Dana <Tech> & Co",
				IssuedAt: now, ExpiresAt: now.Add(authjstest.DefaultMaxAge),
			}, s)
		})
	}
}

// TestAuthJSAcceptsGoCookies hands the cookies this encoder mints to
// @auth/core's own reader (getToken: Cookie header parsing, chunk joining,
// decode) and compares what it decrypts. It needs Node and `npm ci` in
// testdata/authjs; .ci/run provides both and sets authjstest.VectorsEnv.
func TestAuthJSAcceptsGoCookies(t *testing.T) {
	if os.Getenv(authjstest.VectorsEnv) == "" {
		testenv.Missing(t, "@auth/core under Node (npm ci in testdata/authjs)", "set "+authjstest.VectorsEnv+"; .ci/run does")
	}
	node := testenv.Binary(t, "ALGA_TEST_NODE", "node")
	dir := authjstest.RepoDir()
	_, err := os.Stat(filepath.Join(dir, "node_modules", "@auth", "core", "package.json"))
	require.NoError(t, err, "run `npm ci` in %s", dir)

	now := time.Now().Truncate(time.Second) // Auth.js checks exp against its own clock
	type input struct {
		Name       string            `json:"name"`
		Secret     string            `json:"secret"`
		CookieName string            `json:"cookie_name"`
		Cookies    map[string]string `json:"cookies"`
	}
	var in []input
	cases := goMinted(t, now)
	for _, tc := range cases {
		cookies, err := authjstest.Cookies(tc.tok)
		require.NoError(t, err)
		in = append(in, input{tc.name, tc.tok.Secret, tc.tok.CookieName, cookies})
	}
	b, err := json.Marshal(in) //nolint:gosec // G117: fake test secrets, written for the Node verifier
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "go-minted.json")
	require.NoError(t, os.WriteFile(path, b, 0o600))

	cmd := exec.CommandContext(t.Context(), node, "mint.mjs", "verify", path) //nolint:gosec // G204: node from ALGA_TEST_NODE or PATH, running the repository's own mint.mjs
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err)
	var got []struct {
		Name    string         `json:"name"`
		Payload map[string]any `json:"payload"`
	}
	require.NoError(t, json.Unmarshal(out, &got))
	require.Len(t, got, len(cases))
	for i, tc := range cases {
		p := got[i].Payload
		require.NotNil(t, p, "Auth.js refused the Go-minted cookie %q", tc.name)
		for k, v := range tc.tok.Claims {
			want, _ := json.Marshal(v)
			have, _ := json.Marshal(p[k])
			assert.JSONEq(t, string(want), string(have), "%s: claim %s", tc.name, k)
		}
		assert.EqualValues(t, now.Unix(), p["iat"], tc.name)
		assert.EqualValues(t, now.Add(authjstest.DefaultMaxAge).Unix(), p["exp"], tc.name)
		assert.NotEmpty(t, p["jti"], tc.name)
	}
}

func TestEncodeRequires(t *testing.T) {
	now := time.Unix(1796547600, 0)
	for name, tok := range map[string]authjstest.Token{
		"no secret":      {CookieName: authjs.SecureCookieName, Now: now},
		"no cookie name": {Secret: "s", Now: now},
		"no time":        {Secret: "s", CookieName: authjs.SecureCookieName},
	} {
		_, err := authjstest.Encode(tok)
		assert.Error(t, err, name)
	}
}
