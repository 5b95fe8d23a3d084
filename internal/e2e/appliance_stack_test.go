package e2e

// The appliance for real (SPEC §8, issue 10): deploy/proxy/appliance/nginx.conf,
// rendered for loopback ports, in front of a stub of AlgaPSA's web app and of
// the service in appliance mode, against the stand-in of AlgaPSA's database
// (internal/algapsa/algapsatest). The stub signs users in as the web app does
// (a real Auth.js session cookie under the NEXTAUTH_SECRET the service also
// gets, and a `sessions` row) and serves AlgaPSA's REST API with the stand-in's
// API-key check.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/authjs"
	"github.com/nineminds/alga-mobile-auth/internal/authjs/authjstest"
	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

// apNextAuthSecret is the web app's NEXTAUTH_SECRET in these tests; the
// stub mints its cookies with it and the service decrypts them with it.
const apNextAuthSecret = "e2e-web-app-nextauth-secret-0123456789abcdef"

// apWebSessionTTL is how long the stub's web sessions last (AlgaPSA's
// default is 24 hours).
const apWebSessionTTL = 24 * time.Hour

// apWebApp is the stub of AlgaPSA's web app behind nginx. /auth/signin signs
// the chosen user in without asking (the web app's real page asks for a
// password, SSO or a second factor; none of that is the sidecar's business)
// and redirects to callbackUrl; /api/v1/tickets is AlgaPSA's REST API as the
// stand-in's API-key check answers it; /api/v1/mobile/me/capabilities is one
// of AlgaPSA's own mobile routes; anything else is a page. Every answer
// carries X-Stub: web-app, which the service never sets.
type apWebApp struct {
	srv    *httptest.Server
	db     *algapsatest.DB
	origin string // the public origin (nginx), NEXTAUTH_URL
	cookie string // the session cookie's name

	mu       sync.Mutex
	user     *algapsatest.User // who /auth/signin signs in; nil: nobody
	sessions []apSignIn        // every sign-in, in order
	seen     map[string]int    // requests by path
}

// apSignIn is one sign-in the stub performed.
type apSignIn struct {
	User      algapsatest.User
	SessionID string            // the sessions row's session_id
	Cookies   map[string]string // what it set (chunks, if any)
}

func apStartWebApp(t *testing.T, db *algapsatest.DB, origin string) *apWebApp {
	t.Helper()
	w := &apWebApp{db: db, origin: origin, cookie: authjs.CookieName(origin), seen: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/signin", w.signIn)
	mux.Handle("/api/v1/tickets", db.APIHandler())
	mux.HandleFunc("GET /api/v1/mobile/me/capabilities", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(rw, `{"source":"web-app","capabilities":{"tickets":true}}`)
	})
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(rw, "web app: "+r.URL.Path) //nolint:gosec // G705: a text/plain stub answer, never rendered
	})
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.seen[r.URL.Path]++
		w.mu.Unlock()
		rw.Header().Set("X-Stub", "web-app")
		mux.ServeHTTP(rw, r)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

// addr is the stub's host:port, nginx's {{WEBAPP}}.
func (w *apWebApp) addr() string { return w.srv.Listener.Addr().String() }

// signInAs makes /auth/signin sign u in from now on.
func (w *apWebApp) signInAs(u algapsatest.User) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.user = &u
}

// count is how many requests for path reached the stub.
func (w *apWebApp) count(path string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen[path]
}

// signIns are the sign-ins performed so far.
func (w *apWebApp) signIns() []apSignIn {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]apSignIn(nil), w.sessions...)
}

// signIn is the web app's /auth/signin: a sessions row, the Auth.js cookie
// (chunked as Auth.js chunks it), then 302 to callbackUrl when it is on the
// public origin (like the web app, no open redirect), else to /.
func (w *apWebApp) signIn(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	u := w.user
	w.mu.Unlock()
	if u == nil {
		_, _ = io.WriteString(rw, "<html><body><h1>Sign in to AlgaPSA</h1></body></html>")
		return
	}
	// An httptest handler has no *testing.T; seeding errors become 500s,
	// which the tests see.
	sessionID, cookies, err := w.mint(*u)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusInternalServerError)
		return
	}
	w.mu.Lock()
	w.sessions = append(w.sessions, apSignIn{User: *u, SessionID: sessionID, Cookies: cookies})
	w.mu.Unlock()
	for name, value := range cookies {
		http.SetCookie(rw, &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, //nolint:gosec // G124: the web-app stub on plain-http loopback; HttpOnly and SameSite set as the real one does
			Secure: strings.HasPrefix(w.origin, "https:")})
	}
	target := "/"
	if cb := r.URL.Query().Get("callbackUrl"); cb != "" {
		if cu, err := url.Parse(cb); err == nil && cu.Scheme+"://"+cu.Host == w.origin {
			target = cb
		}
	}
	http.Redirect(rw, r, target, http.StatusFound) //nolint:gosec // G710: the stub web app returns to callbackUrl as Auth.js does; the service under test checks it
}

// mint seeds a sessions row for u and returns its id and the cookies of a
// session whose claims are shaped as AlgaPSA's jwt callback writes them.
func (w *apWebApp) mint(u algapsatest.User) (string, map[string]string, error) {
	sessionID := uuid.NewString()
	if _, err := w.db.Admin.Exec(context.Background(), `INSERT INTO sessions (tenant, session_id, user_id, expires_at)
		VALUES ($1, $2, $3, now() + make_interval(secs => $4))`, u.TenantID, sessionID, u.ID, apWebSessionTTL.Seconds()); err != nil {
		return "", nil, err
	}
	cookies, err := authjstest.Cookies(authjstest.Token{Secret: apNextAuthSecret, CookieName: w.cookie, Now: time.Now(),
		MaxAge: apWebSessionTTL, Claims: map[string]any{
			"id": u.ID, "sub": u.ID, "tenant": u.TenantID, "user_type": u.Type, "email": u.Email,
			"name": strings.TrimSpace(u.FirstName + " " + u.LastName), "session_id": sessionID,
		}})
	return sessionID, cookies, err
}

// apStack is nginx (its origin is NEXTAUTH_URL) in front of the stub web
// app and the service in appliance mode.
type apStack struct {
	URL string
	svc *instance
	web *apWebApp
	db  *algapsatest.DB
}

// apApplianceEnv is the service's environment in appliance mode: AlgaPSA's
// database (the stand-in, as the role that holds only SPEC §8.1's
// privileges), the web app's NEXTAUTH_SECRET, nginx trusted as the proxy, no
// development sign-in.
func apApplianceEnv(t *testing.T, addr, origin string, db *algapsatest.DB) map[string]string {
	env := baseEnv(t, addr)
	delete(env, "ALGA_MOBILE_DEV_IDP")
	delete(env, "ALGA_MOBILE_DEV_IDP_ADDR")
	env["NEXTAUTH_URL"] = origin
	env["ALGA_MOBILE_TRUSTED_PROXIES"] = "127.0.0.1/32"
	env["ALGA_PSA_DATABASE_URL"] = db.AppURL
	env["NEXTAUTH_SECRET"] = apNextAuthSecret
	return env
}

// apStart brings up the stand-in, the stub, the service and nginx. nginx
// and PostgreSQL are checked first, so the test skips (fails in CI) before
// anything starts.
func apStart(t *testing.T) *apStack {
	t.Helper()
	bin := testenv.Binary(t, "ALGA_TEST_NGINX", "nginx", "/usr/sbin/nginx")
	db := algapsatest.New(t)
	proxyAddr, svcAddr := freeAddr(t), freeAddr(t)
	origin := "http://" + proxyAddr
	web := apStartWebApp(t, db, origin)
	svc := start(t, apApplianceEnv(t, svcAddr, origin, db))
	require.True(t, svc.App.Config.ApplianceMode(), "the service runs in appliance mode")
	ngRun(t, bin, ngRenderFile(t, pxApplianceNginx, proxyAddr, svcAddr, web.addr(), nil), proxyAddr)
	return &apStack{URL: origin, svc: svc, web: web, db: db}
}

// apHandoffURL is the hand-off URL the app puts in callbackUrl.
func (st *apStack) apHandoffURL(state string) string {
	return st.URL + "/auth/mobile/handoff?" + url.Values{"redirect": {"alga://auth/callback"}, "state": {state}}.Encode()
}

// apSignInURL is what the app opens in the browser (SPEC §1 step 3).
func (st *apStack) apSignInURL(state string) string {
	return st.URL + "/auth/signin?" + url.Values{"callbackUrl": {st.apHandoffURL(state)}}.Encode()
}

// apTickets calls the stub's REST API through nginx as the phone does.
func apTickets(t *testing.T, base, key, tenant string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/api/v1/tickets", nil)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	if tenant != "" {
		req.Header.Set("x-tenant-id", tenant)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "web-app", resp.Header.Get("X-Stub"), "AlgaPSA's REST API is the web app's")
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}
