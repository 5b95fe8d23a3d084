package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/httpapi"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/token"
)

// The token-endpoint paths (SPEC §3.4–§3.7).
const (
	tkExchangePath = "/api/v1/mobile/auth/exchange"
	tkRefreshPath  = "/api/v1/mobile/auth/refresh"
	tkRevokePath   = "/api/v1/mobile/auth/revoke"
	tkVerifyPath   = "/api/v1/mobile/auth/verify"
	tkJWKSPath     = "/.well-known/jwks.json"
)

// The golden files are rewritten with `go test ./internal/e2e -update`.
// Another file of this package may declare the same flag, so it is
// registered only when absent and always read back by name.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/golden")
	}
}

func tkUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// tkIPs hands out distinct client addresses (TEST-NET-2) so that the
// handoff's per-IP issue limit never refuses the OTTs a test needs.
var tkIPs atomic.Uint32

func tkNextIP() string {
	n := tkIPs.Add(1)
	return fmt.Sprintf("198.51.%d.%d", (n/250)%250, n%250+1)
}

// tkWebSession is a browser's own web session: the clear id its cookie
// carries and the hash the store keeps.
type tkWebSession struct {
	ID     string
	IDHash mobileauth.Hash
}

// tkSession signs email in through the use cases (no browser) and returns
// the live web session and its user.
func tkSession(t *testing.T, in *instance, email string) (tkWebSession, mobileauth.User) {
	t.Helper()
	ctx := context.Background()
	res, err := in.App.Auth.SignIn(ctx, authflow.SignInRequest{Provider: "dev", Email: email, ClientIP: "127.0.0.1"})
	require.NoError(t, err)
	sess := tkWebSession{ID: res.SessionID, IDHash: token.HashOf(res.SessionID)}
	info, err := in.App.Auth.WebSession(ctx, tkCookies(in, sess))
	require.NoError(t, err)
	return sess, info.User
}

// tkCookies are the cookies of a browser signed in with sess.
func tkCookies(in *instance, sess tkWebSession) map[string]string {
	return map[string]string{httpapi.SessionCookieName(in.App.Config.Origin()): sess.ID}
}

// tkOTTFor issues an OTT bound to state (and a PKCE challenge when given)
// through the handoff use case, as the handoff page would, for the
// browser signed in as u with sess.
func tkOTTFor(t *testing.T, in *instance, sess tkWebSession, u mobileauth.User, state, challenge string) string {
	t.Helper()
	res, err := in.App.Auth.Handoff(context.Background(), authflow.HandoffRequest{Cookies: tkCookies(in, sess),
		Redirect: "alga://auth/callback", State: state, CodeChallenge: challenge, CodeChallengeMethod: tkMethod(challenge),
		RequestHost: in.App.Config.OwnHost(), ClientIP: tkNextIP()})
	require.NoError(t, err)
	require.Equal(t, u.ID, res.Session.User.ID)
	loc, err := url.Parse(res.Location)
	require.NoError(t, err)
	ott := loc.Query().Get("ott")
	require.NotEmpty(t, ott)
	return ott
}

// tkOTT signs email in and issues one OTT for state.
func tkOTT(t *testing.T, in *instance, email, state string) string {
	t.Helper()
	sess, u := tkSession(t, in, email)
	return tkOTTFor(t, in, sess, u, state, "")
}

// tkResponse is a response with its body read.
type tkResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r tkResponse) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// tkClient is shared by every request of these tests; its pool is sized
// for the concurrency tests so that 200 racers need not queue on dials.
var tkClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
	MaxIdleConns: 512, MaxIdleConnsPerHost: 256, IdleConnTimeout: 10 * time.Second}}

// tkDo sends one request. hdr is name, value pairs. A body that is not a
// *bytes.Reader, *bytes.Buffer or *strings.Reader goes out chunked.
func tkDo(t testing.TB, method, u string, body io.Reader, hdr ...string) tkResponse {
	t.Helper()
	r, err := tkTry(method, u, body, hdr...)
	require.NoError(t, err)
	return r
}

// tkTry is tkDo for goroutines other than the test's own (no FailNow).
func tkTry(method, u string, body io.Reader, hdr ...string) (tkResponse, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, u, body)
	if err != nil {
		return tkResponse{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := tkClient.Do(req)
	if err != nil {
		return tkResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return tkResponse{}, err
	}
	return tkResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// tkPost sends v as JSON from the client address ip (X-Forwarded-For,
// believed from the loopback peer); "" sends no such header.
func tkPost(t testing.TB, u string, v any, ip string) tkResponse {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var hdr []string
	if ip != "" {
		hdr = []string{"X-Forwarded-For", ip}
	}
	return tkDo(t, http.MethodPost, u, bytes.NewReader(b), hdr...)
}

// tkExchange trades ott for tokens and requires success.
func tkExchange(t *testing.T, in *instance, ott, state string) authflow.ExchangeResult {
	t.Helper()
	r := tkPost(t, in.URL+tkExchangePath, map[string]any{"ott": ott, "state": state}, tkNextIP())
	require.Equal(t, http.StatusOK, r.Status, "exchange: %s", r.Body)
	var res authflow.ExchangeResult
	require.NoError(t, json.Unmarshal(r.Body, &res))
	return res
}

// tkRefresh presents a refresh token from a fresh client address.
func tkRefresh(t *testing.T, base, refresh string) tkResponse {
	t.Helper()
	return tkPost(t, base+tkRefreshPath, map[string]any{"refreshToken": refresh}, tkNextIP())
}

// tkVerify asks forward-auth about an access token.
func tkVerify(t testing.TB, base, access string) tkResponse {
	t.Helper()
	return tkDo(t, http.MethodGet, base+tkVerifyPath, nil, "Authorization", "Bearer "+access)
}

// tkAssertError checks a contract error response (SPEC §3): the status,
// the code, exactly {"error":{"code","message"[,"details"]}}, JSON content
// type and a correlation id; and nothing that looks like internals.
func tkAssertError(t testing.TB, r tkResponse, status int, code mobileauth.Code) map[string]any {
	t.Helper()
	assert.Equal(t, status, r.Status, "status; body %s", r.Body)
	assert.NotEmpty(t, r.Header.Get("x-correlation-id"), "x-correlation-id")
	assert.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"), "content type %q", r.Header.Get("Content-Type"))
	var top map[string]json.RawMessage
	if !assert.NoError(t, json.Unmarshal(r.Body, &top), "error body is JSON: %s", r.Body) {
		return nil
	}
	assert.Equal(t, []string{"error"}, tkKeys(top), "top-level keys")
	var inner map[string]json.RawMessage
	if !assert.NoError(t, json.Unmarshal(top["error"], &inner), "error is an object: %s", r.Body) {
		return nil
	}
	keys := tkKeys(inner)
	assert.Subset(t, []string{"code", "details", "message"}, keys, "error keys")
	assert.Contains(t, keys, "code")
	assert.Contains(t, keys, "message")
	var e struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	}
	assert.NoError(t, json.Unmarshal(top["error"], &e), "code and message are strings, details an object")
	assert.Equal(t, string(code), e.Code)
	assert.NotEmpty(t, e.Message)
	for _, leak := range []string{"goroutine", ".go:", "panic", "sql", "SELECT", "json:", "http:"} {
		assert.NotContains(t, string(r.Body), leak, "error body leaks internals")
	}
	var m map[string]any
	_ = json.Unmarshal(top["error"], &m)
	return m
}

func tkKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// tkGolden compares body (JSON) with testdata/golden/<name>.json after
// replacing the values at the dotted paths in volatile with placeholders
// ("<accessToken>", …). The value must exist: a vanished field is a
// contract change too. With -update the file is rewritten instead.
func tkGolden(t *testing.T, name string, body []byte, volatile ...string) {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(body, &v), "golden %s: body is JSON: %s", name, body)
	for _, path := range volatile {
		require.True(t, tkReplace(v, strings.Split(path, ".")), "golden %s: no value at %s in %s", name, path, body)
	}
	// Placeholders stay readable: no \u003c escapes.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(v))
	got := buf.Bytes()
	file := filepath.Join("testdata", "golden", name+".json")
	if tkUpdating() {
		require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755)) //nolint:gosec // G301: testdata of the checkout
		require.NoError(t, os.WriteFile(file, got, 0o644))         //nolint:gosec // G306: a golden file committed with the repository
		return
	}
	want, err := os.ReadFile(file) //nolint:gosec // G304: a golden file of the package's testdata
	require.NoError(t, err, "golden file missing; run go test ./internal/e2e -run %s -update", t.Name())
	assert.Equal(t, string(want), string(got), "golden %s differs (rerun with -update if the change is intended)", file)
}

// tkReplace puts "<last path element>" where path points.
func tkReplace(v any, path []string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	cur, ok := m[path[0]]
	if !ok {
		return false
	}
	if len(path) == 1 {
		m[path[0]] = "<" + path[0] + ">"
		return true
	}
	return tkReplace(cur, path[1:])
}

// tkUser adds the usual internal user to in's directory.
func tkUser(t *testing.T, in *instance, email string) mobileauth.User {
	t.Helper()
	return in.addUser(t, tenantA, email, mobileauth.UserInternal)
}

// TestTokenEndpointsRefuseBadBodies posts every kind of bad body to the
// three token endpoints: each is a 400 VALIDATION_ERROR (or 413), never a
// 500, in the contract shape.
func TestTokenEndpointsRefuseBadBodies(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	big := `{"ott":"` + strings.Repeat("a", 65<<10) + `","state":"s"}`
	type bad struct {
		name, body string
		field      string // details.field when the refusal names one
	}
	common := []bad{
		{name: "malformed JSON", body: `{"ott":`},
		{name: "not JSON at all", body: `ott=abc&state=s`},
		{name: "empty body", body: ``},
		{name: "whitespace only", body: " \n\t "},
		{name: "JSON array", body: `[{"ott":"a","state":"b"}]`},
		{name: "JSON string", body: `"ott"`},
		{name: "JSON number", body: `42`},
		{name: "JSON null", body: `null`},
		{name: "empty object", body: `{}`},
		{name: "two objects", body: `{"ott":"a","state":"b","refreshToken":"r"}{"ott":"a"}`},
		{name: "trailing garbage", body: `{"ott":"a","state":"b","refreshToken":"r"} x`},
		{name: "deeply nested", body: `{"device":` + strings.Repeat(`[`, 20000) + strings.Repeat(`]`, 20000) + `}`},
	}
	// Revoke takes no device, so only these two endpoints type-check it.
	device := []bad{
		{name: "device a string", body: `{"ott":"a","state":"b","refreshToken":"r","device":"x"}`, field: "device"},
		{name: "device platform a number", body: `{"ott":"a","state":"b","refreshToken":"r","device":{"platform":5}}`, field: "device.platform"},
		{name: "device an array", body: `{"ott":"a","state":"b","refreshToken":"r","device":[]}`, field: "device"},
	}
	perEndpoint := map[string][]bad{
		tkExchangePath: {
			{name: "ott a number", body: `{"ott":123,"state":"s"}`, field: "ott"},
			{name: "state a boolean", body: `{"ott":"a","state":true}`, field: "state"},
			{name: "ott null", body: `{"ott":null,"state":"s"}`, field: "ott"},
			{name: "ott missing", body: `{"state":"s"}`, field: "ott"},
			{name: "state missing", body: `{"ott":"a"}`, field: "state"},
			{name: "ott empty", body: `{"ott":"","state":"s"}`, field: "ott"},
			{name: "state empty", body: `{"ott":"a","state":""}`, field: "state"},
			{name: "ott an object", body: `{"ott":{},"state":"s"}`, field: "ott"},
			{name: "code_verifier a number", body: `{"ott":"a","state":"s","code_verifier":1}`, field: "code_verifier"},
		},
		tkRefreshPath: {
			{name: "refreshToken a number", body: `{"refreshToken":123}`, field: "refreshToken"},
			{name: "refreshToken missing", body: `{"device":{"platform":"ios"}}`, field: "refreshToken"},
			{name: "refreshToken empty", body: `{"refreshToken":""}`, field: "refreshToken"},
			{name: "refreshToken an array", body: `{"refreshToken":["r"]}`, field: "refreshToken"},
		},
		tkRevokePath: {
			{name: "refreshToken a boolean", body: `{"refreshToken":false}`, field: "refreshToken"},
			{name: "refreshToken missing", body: `{"token":"r"}`, field: "refreshToken"},
			{name: "refreshToken empty", body: `{"refreshToken":""}`, field: "refreshToken"},
		},
	}
	for _, path := range []string{tkExchangePath, tkRefreshPath, tkRevokePath} {
		cases := append(append([]bad{}, common...), perEndpoint[path]...)
		if path != tkRevokePath {
			cases = append(cases, device...)
		}
		for _, c := range cases {
			t.Run(path+"/refuses "+c.name, func(t *testing.T) {
				r := tkDo(t, http.MethodPost, in.URL+path, strings.NewReader(c.body))
				e := tkAssertError(t, r, http.StatusBadRequest, mobileauth.CodeValidation)
				if c.field != "" && e != nil {
					assert.Equal(t, map[string]any{"field": c.field}, e["details"])
				}
			})
		}
		t.Run(path+"/refuses a form content type", func(t *testing.T) {
			r := tkDo(t, http.MethodPost, in.URL+path, strings.NewReader(`{"ott":"a","state":"s","refreshToken":"r"}`),
				"Content-Type", "application/x-www-form-urlencoded")
			tkAssertError(t, r, http.StatusBadRequest, mobileauth.CodeValidation)
		})
		t.Run(path+"/refuses 65 KiB with Content-Length", func(t *testing.T) {
			r := tkDo(t, http.MethodPost, in.URL+path, strings.NewReader(big))
			tkAssertError(t, r, http.StatusRequestEntityTooLarge, mobileauth.CodePayloadTooLarge)
		})
		t.Run(path+"/refuses 65 KiB chunked", func(t *testing.T) {
			r := tkDo(t, http.MethodPost, in.URL+path, io.MultiReader(strings.NewReader(big)))
			tkAssertError(t, r, http.StatusRequestEntityTooLarge, mobileauth.CodePayloadTooLarge)
		})
		// Chunked, the size shows only while reading: a body over the limit
		// is still a 413 when it is malformed early, as with Content-Length.
		for name, body := range map[string]string{
			"65 KiB of garbage":                 strings.Repeat("x", 65<<10),
			"an object and 65 KiB of garbage":   `{"ott":"a","state":"s","refreshToken":"r"} ` + strings.Repeat("x", 65<<10),
			"an object and 65 KiB more objects": `{"ott":"a","state":"s","refreshToken":"r"}` + strings.Repeat("{}", 33<<10),
			"a wrong type and 65 KiB of fields": `{"ott":1,"refreshToken":1,` + strings.Repeat(`"a":1,`, 11<<10) + `"b":1}`,
		} {
			t.Run(path+"/refuses "+name+", chunked", func(t *testing.T) {
				r := tkDo(t, http.MethodPost, in.URL+path, io.MultiReader(strings.NewReader(body)))
				tkAssertError(t, r, http.StatusRequestEntityTooLarge, mobileauth.CodePayloadTooLarge)
				r = tkDo(t, http.MethodPost, in.URL+path, strings.NewReader(body))
				tkAssertError(t, r, http.StatusRequestEntityTooLarge, mobileauth.CodePayloadTooLarge)
			})
		}
		t.Run(path+"/refuses 65 KiB of trailing whitespace, chunked", func(t *testing.T) {
			body := `{"ott":"a","state":"s","refreshToken":"r"}` + strings.Repeat(" ", 65<<10)
			r := tkDo(t, http.MethodPost, in.URL+path, io.MultiReader(strings.NewReader(body)))
			tkAssertError(t, r, http.StatusRequestEntityTooLarge, mobileauth.CodePayloadTooLarge)
		})
	}
	t.Run("a body of exactly 64 KiB is read, not refused", func(t *testing.T) {
		pad := 64<<10 - len(`{"refreshToken":"r","x":""}`)
		body := `{"refreshToken":"r","x":"` + strings.Repeat("p", pad) + `"}`
		require.Len(t, body, 64<<10)
		r := tkDo(t, http.MethodPost, in.URL+tkRevokePath, strings.NewReader(body))
		assert.Equal(t, http.StatusOK, r.Status, "body %s", r.Body)
	})
	// Issue 11 item 8: only application/json (with parameters) is read.
	// text/plain and the form types are what any web page may post
	// cross-site without a CORS preflight.
	for _, path := range []string{tkExchangePath, tkRefreshPath, tkRevokePath} {
		for _, ct := range []string{"text/plain;charset=UTF-8", "text/plain", "multipart/form-data; boundary=x", "application/jsonx", ""} {
			t.Run(path+"/refuses Content-Type "+ct, func(t *testing.T) {
				r := tkDo(t, http.MethodPost, in.URL+path, strings.NewReader(`{"ott":"a","state":"s","refreshToken":"r"}`), "Content-Type", ct)
				tkAssertError(t, r, http.StatusBadRequest, mobileauth.CodeValidation)
			})
		}
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"} {
		t.Run("accepts Content-Type "+ct, func(t *testing.T) {
			r := tkDo(t, http.MethodPost, in.URL+tkRevokePath, strings.NewReader(`{"refreshToken":"r"}`), "Content-Type", ct)
			assert.Equal(t, http.StatusOK, r.Status, "body %s", r.Body)
		})
	}
}

// TestTokenEndpointsErrorsCarryCorrelationID: a sane incoming id comes
// back on errors; an insane one is replaced.
func TestTokenEndpointsErrorsCarryCorrelationID(t *testing.T) {
	in := start(t, baseEnv(t, freeAddr(t)))
	r := tkDo(t, http.MethodPost, in.URL+tkExchangePath, strings.NewReader(`{`), "x-correlation-id", "req-abc-123")
	tkAssertError(t, r, http.StatusBadRequest, mobileauth.CodeValidation)
	assert.Equal(t, "req-abc-123", r.Header.Get("x-correlation-id"))
	r = tkDo(t, http.MethodPost, in.URL+tkExchangePath, strings.NewReader(`{`), "x-correlation-id", "bad id <script>"+strings.Repeat("x", 300))
	tkAssertError(t, r, http.StatusBadRequest, mobileauth.CodeValidation)
	assert.NotContains(t, r.Header.Get("x-correlation-id"), "script")
	r = tkVerify(t, in.URL, "nope")
	tkAssertError(t, r, http.StatusUnauthorized, mobileauth.CodeUnauthorized)
}

// tkMethod is the code_challenge_method that goes with challenge.
func tkMethod(challenge string) string {
	if challenge == "" {
		return ""
	}
	return "S256"
}
