package httpapi

import (
	"net/http"
	"strings"
	"time"
)

// Cookie names. On https the __Host- prefix makes the browser insist on
// Secure, Path=/ and no Domain, so no sibling host can plant or read them.
const (
	sessionCookie = "alga_mobile_session"
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
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(base), Value: value, Path: "/", MaxAge: int(ttl.Seconds()),
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
}

func (s *Server) clearCookie(w http.ResponseWriter, base string) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(base), Value: "", Path: "/", MaxAge: -1,
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
