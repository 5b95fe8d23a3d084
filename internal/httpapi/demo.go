package httpapi

import (
	"net/http"
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
	q := url.Values{"redirect": {"alga://auth/callback"}, "state": {state}}
	here := s.web.Origin + "/demo/handoff?" + url.Values{"state": {state}}.Encode()
	loc, err := s.handoffTarget(r, q, here)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	u, err := url.Parse(loc)
	if err != nil || u.Scheme != "alga" {
		// Not signed in yet, or refused: the real pages take over.
		http.Redirect(w, r, loc, http.StatusFound)
		return
	}
	d := pageData{Title: "Demo: the app's deep link", Origin: s.web.Origin, DeepLink: loc}
	if ott := u.Query().Get("ott"); ott != "" {
		d.Curl = "curl -s " + s.web.Origin + "/api/v1/mobile/auth/exchange -H 'content-type: application/json' -d '" +
			`{"ott":"` + ott + `","state":"` + u.Query().Get("state") + `"}'`
	}
	s.renderPage(w, r, http.StatusOK, "demo", d)
}
