package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nineminds/alga-mobile-auth/internal/allowlist"
	"github.com/nineminds/alga-mobile-auth/internal/authflow"
)

// handoff is SPEC §3.3. Every answer is a 302 that must not be cached.
func (s *Server) handoff(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	loc, err := s.handoffTarget(r, r.URL.Query(), s.web.Origin+r.URL.RequestURI())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	http.Redirect(w, r, loc, http.StatusFound)
}

// handoffTarget runs steps 1–3 here (parameters, redirect, session) and
// 4–7 in the use case, and says where the browser goes next. here is the
// URL to come back to after signing in.
func (s *Server) handoffTarget(r *http.Request, q url.Values, here string) (string, error) {
	rawRedirect, state := q.Get("redirect"), q.Get("state")
	if rawRedirect == "" || state == "" {
		return "/auth/signin", nil
	}
	redirect, ok := allowlist.MobileRedirect(rawRedirect)
	// https and exp redirects must stay on hosts this appliance trusts, or a
	// link could send a signed-in user's OTT to any site (see README).
	ok = ok && allowlist.RedirectHostTrusted(redirect, s.web.Origin, s.web.HostAllowlist)
	// The state is echoed to the app and stored with the OTT: bound its size
	// and refuse control characters (PostgreSQL rejects NUL in text).
	if !ok || len(state) > 512 || strings.ContainsFunc(state, unicode.IsControl) || !utf8.ValidString(state) {
		return "/auth/signin?error=invalid_redirect", nil
	}
	sess, user, err := s.web.Service.SessionUser(r.Context(), s.sessionCookie(r))
	if errors.Is(err, authflow.ErrNoSession) {
		return "/auth/signin?" + url.Values{"callbackUrl": {here}}.Encode(), nil
	}
	if err != nil {
		return "", err
	}
	res, err := s.web.Service.Handoff(r.Context(), authflow.HandoffRequest{Session: sess, User: user, Redirect: redirect,
		State: state, CodeChallenge: q.Get("code_challenge"), CodeChallengeMethod: q.Get("code_challenge_method"),
		RequestHost: s.web.RequestHost(r), ClientIP: s.clientIP(r)})
	if err != nil {
		return "", err
	}
	return res.Location, nil
}
