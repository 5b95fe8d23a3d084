package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// handoff is SPEC §3.3: the use case decides, this handler reads the
// request and writes the 302. Every answer must not be cached.
func (s *Server) handoff(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	q := r.URL.Query()
	res, err := s.web.Service.Handoff(r.Context(), s.handoffRequest(r, q.Get("redirect"), q.Get("state"),
		s.web.Origin+r.URL.RequestURI()))
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.handoffAnswer(w, r, res)
}

// handoffConfirm is the confirmation page's POST (SPEC §3.3 step 7): the
// same parameters, and the page's CSRF token, which the use case checks.
func (s *Server) handoffConfirm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if err := r.ParseForm(); err != nil {
		writeError(w, r, s.log, mobileauth.Errorf(mobileauth.CodeValidation, "Malformed form"))
		return
	}
	f := r.PostForm
	back := s.web.Origin + "/auth/mobile/handoff?" + url.Values{"redirect": {f.Get("redirect")}, "state": {f.Get("state")}}.Encode()
	req := s.handoffRequest(r, f.Get("redirect"), f.Get("state"), back)
	req.CodeChallenge, req.CodeChallengeMethod = f.Get("code_challenge"), f.Get("code_challenge_method")
	req.Confirmed, req.ConfirmToken = true, f.Get("confirm")
	res, err := s.web.Service.Handoff(r.Context(), req)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.handoffAnswer(w, r, res)
}

// handoffAnswer writes the use case's answer: the confirmation page, or
// the 302 (a 303 after the POST, so the browser follows with a GET).
func (s *Server) handoffAnswer(w http.ResponseWriter, r *http.Request, res authflow.HandoffResult) {
	if res.Outcome == authflow.HandoffConfirm {
		q := r.URL.Query()
		if r.Method == http.MethodPost {
			q = r.PostForm
		}
		d := pageData{Title: "Continue to the app?", SignedInAs: res.Session.User.Email, FormAction: formActionFor(q.Get("redirect"))}
		for _, k := range []string{"redirect", "state", "code_challenge", "code_challenge_method"} {
			if v := q.Get(k); v != "" {
				d.Fields = append(d.Fields, formField{k, v})
			}
		}
		d.Fields = append(d.Fields, formField{"confirm", res.ConfirmToken})
		s.renderPage(w, r, http.StatusOK, "confirm", d)
		return
	}
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	http.Redirect(w, r, res.Location, status)
}

// formActionFor is the CSP source that lets the confirmation's POST be
// redirected to the app: the redirect's scheme for alga: and exp:, its
// origin for https.
func formActionFor(redirect string) string {
	u, err := url.Parse(redirect)
	if err != nil {
		return ""
	}
	switch strings.ToLower(u.Scheme) {
	case "alga", "exp":
		return strings.ToLower(u.Scheme) + ":"
	case "https":
		if u.Host != "" && !strings.ContainsAny(u.Host, " ;,'") {
			return "https://" + u.Host
		}
	}
	return ""
}

// handoffRequest reads what the hand-off use case needs from r; returnURL
// is where the browser comes back to after signing in.
func (s *Server) handoffRequest(r *http.Request, redirect, state, returnURL string) authflow.HandoffRequest {
	q := r.URL.Query()
	return authflow.HandoffRequest{Redirect: redirect, State: state,
		CodeChallenge: q.Get("code_challenge"), CodeChallengeMethod: q.Get("code_challenge_method"),
		Cookies: cookieMap(r), ReturnURL: returnURL, RequestHost: s.web.RequestHost(r), ClientIP: s.clientIP(r),
		CrossSite: strings.EqualFold(r.Header.Get("Sec-Fetch-Site"), "cross-site")}
}
