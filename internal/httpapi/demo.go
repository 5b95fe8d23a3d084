package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
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
	here := s.web.Origin + "/demo/handoff?" + url.Values{"state": {state}}.Encode()
	res, err := s.web.Service.Handoff(r.Context(), s.handoffRequest(r, "alga://auth/callback", state, here))
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	loc := res.Location
	u, err := url.Parse(loc)
	if err != nil || (res.Outcome != authflow.HandoffIssued && res.Outcome != authflow.HandoffRefused) {
		// Not signed in yet: the real pages take over.
		http.Redirect(w, r, loc, http.StatusFound)
		return
	}
	d := pageData{Title: "Demo: the app's deep link", Origin: s.web.Origin, DeepLink: loc}
	if ott := u.Query().Get("ott"); ott != "" {
		d.Curl = exchangeCurl(s.web.Origin, ott, u.Query().Get("state"))
	}
	s.renderPage(w, r, http.StatusOK, "demo", d)
}

// exchangeCurl is the shell command that exchanges ott. state comes from
// the page's URL, so anyone can choose it: the body is real JSON and every
// argument is shell-quoted, so a pasted command runs curl and nothing else.
func exchangeCurl(origin, ott, state string) string {
	body, _ := json.Marshal(struct {
		OTT   string `json:"ott"`
		State string `json:"state"`
	}{ott, state}) // strings always marshal
	return "curl -s " + shellQuote(origin+"/api/v1/mobile/auth/exchange") +
		" -H 'content-type: application/json' -d " + shellQuote(string(body))
}

// shellQuote makes s one POSIX shell word: as is when it holds only
// characters no shell treats specially, else single-quoted, each single
// quote inside written as quote, backslash, quote, quote.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@%+=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
