package httpapi

import (
	"net/http"
	"net/mail"
	"net/url"
	"time"
)

// A refused sign-in (the verified e-mail maps to no active user, to users
// in two tenants, or comes from an untrusted Microsoft directory) ends on a
// page of its own: the callback redirects to /auth/signin?error=<code>, so
// reloading the page shows it again instead of re-sending the provider's
// used authorization code. The e-mail travels in a short-lived HttpOnly
// cookie (never in the URL, where it would land in logs and history).
const (
	refusedNoAccount       = "no_account"
	refusedAmbiguous       = "ambiguous_account"
	refusedUntrustedTenant = "untrusted_tenant"

	refusedCookie = "alga_mobile_refused"
	refusedTTL    = 5 * time.Minute
)

// refusals builds each refusal page; email is "" when the cookie is gone.
var refusals = map[string]func(email string) pageData{
	refusedNoAccount: func(email string) pageData {
		who := "the e-mail address you signed in with"
		if email != "" {
			who = email
		}
		return pageData{Title: "No AlgaPSA account", Error: "There is no active AlgaPSA account for " + who + ".",
			Detail: "Ask your administrator to add you, or sign in with the account your company uses for AlgaPSA."}
	},
	refusedAmbiguous: func(email string) pageData {
		who := "The e-mail address you signed in with"
		if email != "" {
			who = email
		}
		return pageData{Title: "Account is ambiguous", Error: who + " belongs to more than one organisation on this server, so it cannot be used to sign in.",
			Detail: "Ask your administrator to keep the address in one organisation only."}
	},
	refusedUntrustedTenant: func(string) pageData {
		return pageData{Title: "Organisation not accepted",
			Error:  "This server does not accept Microsoft sign-ins from your organisation's directory, and Microsoft did not confirm that your organisation owns your e-mail address's domain.",
			Detail: "Ask your administrator to add your organisation's Microsoft Entra tenant id to ALGA_MOBILE_MICROSOFT_TENANTS."}
	},
}

// refuse sends the browser from the OAuth callback to the refusal's own page.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code, email string) {
	if email != "" {
		s.setCookie(w, refusedCookie, url.QueryEscape(email), refusedTTL)
	}
	setPageHeaders(w)
	http.Redirect(w, r, "/auth/signin?"+url.Values{"error": {code}}.Encode(), http.StatusSeeOther)
}

// refusedPage renders a refusal (403); the e-mail is shown only when the
// cookie holds a plausible address.
func (s *Server) refusedPage(w http.ResponseWriter, r *http.Request, code string) {
	email, err := url.QueryUnescape(s.cookie(r, refusedCookie))
	if a, perr := mail.ParseAddress(email); err != nil || perr != nil || a.Address != email || len(email) > 254 {
		email = ""
	}
	s.renderPage(w, r, http.StatusForbidden, "refused", refusals[code](email))
}
