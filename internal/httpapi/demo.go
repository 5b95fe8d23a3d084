package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/url"
)

// demoHandoff is for `make run` only (served when the development identity
// provider is on): a desktop browser cannot follow alga:// links, so this
// page runs the real hand-off and shows the deep link the app would
// receive, with the curl that exchanges it.
func (s *Server) demoHandoff(w http.ResponseWriter, r *http.Request) {
	state := r.URL.Query().Get("state")
	if state == "" {
		state = "demo-state"
	}
	handoffURL := "/auth/mobile/handoff?" + url.Values{"redirect": {"alga://auth/callback"}, "state": {state}}.Encode()
	inner := r.Clone(r.Context())
	inner.URL, _ = url.Parse(handoffURL)
	inner.RequestURI = handoffURL
	rec := httptest.NewRecorder()
	s.handoff(rec, inner)
	loc := rec.Header().Get("Location")
	if u, err := url.Parse(loc); err != nil || u.Scheme != "alga" {
		// Not signed in yet (or refused): let the real flow take over, and
		// come back here afterwards.
		if loc == "/auth/signin" || len(loc) > 0 && loc[0] == '/' {
			back := url.Values{"callbackUrl": {s.web.Origin + "/demo/handoff?" + url.Values{"state": {state}}.Encode()}}
			http.Redirect(w, r, "/auth/signin?"+back.Encode(), http.StatusFound)
			return
		}
	}
	d := pageData{Title: "Demo: the app's deep link", Origin: s.web.Origin, DeepLink: loc}
	if u, err := url.Parse(loc); err == nil && u.Query().Get("ott") != "" {
		d.Curl = "curl -s " + s.web.Origin + "/api/v1/mobile/auth/exchange -H 'content-type: application/json' -d '" +
			`{"ott":"` + u.Query().Get("ott") + `","state":"` + u.Query().Get("state") + `"}'`
	}
	s.renderPage(w, r, http.StatusOK, "demo", d)
}
