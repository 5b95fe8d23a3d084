package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
)

// Cookie names. On https the __Host- prefix makes the browser insist on
// Secure, Path=/ and no Domain, so no sibling host can plant or read them.
const (
	sessionCookie = authflow.DefaultSessionCookie
	flowCookie    = "alga_mobile_flow"
)

func (s *Server) secureCookies() bool { return strings.HasPrefix(s.web.Origin, "https://") }

func (s *Server) cookieName(base string) string {
	if s.secureCookies() {
		return "__Host-" + base
	}
	return base
}

func (s *Server) setCookie(w http.ResponseWriter, base, value string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(base), Value: value, Path: "/", MaxAge: int(ttl.Seconds()), //nolint:gosec // G124: HttpOnly and SameSite set; Secure whenever NEXTAUTH_URL is https (an http origin is the loopback demo)
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
}

func (s *Server) clearCookie(w http.ResponseWriter, base string) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(base), Value: "", Path: "/", MaxAge: -1, //nolint:gosec // G124: as setCookie
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
}

func (s *Server) cookie(r *http.Request, base string) string {
	c, err := r.Cookie(s.cookieName(base))
	if err != nil {
		return ""
	}
	return c.Value
}

func (s *Server) sessionCookie(r *http.Request) string { return s.cookie(r, sessionCookie) }

// SessionCookieName is the own browser session's cookie name for a site
// at origin (the use cases read the session from it).
func SessionCookieName(origin string) string {
	if strings.HasPrefix(origin, "https://") {
		return "__Host-" + sessionCookie
	}
	return sessionCookie
}

// cookieMap is the request's cookies by name (the first of a repeated
// name wins, as net/http's Request.Cookie does).
func cookieMap(r *http.Request) map[string]string {
	cs := r.Cookies()
	m := make(map[string]string, len(cs))
	for _, c := range cs {
		if _, seen := m[c.Name]; !seen {
			m[c.Name] = c.Value
		}
	}
	return m
}
