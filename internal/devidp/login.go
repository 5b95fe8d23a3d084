package devidp

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
)

// maxFormBytes bounds request bodies.
const maxFormBytes = 64 << 10

// pageCSS is the page's only style. It is inlined (no external assets) and
// allowed by its hash in the CSP, so no 'unsafe-inline' is needed.
const pageCSS = `*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#f4f5f7}` +
	`main{max-width:26rem;margin:0 auto;padding:2rem 1.25rem}h1{font-size:1.5rem;margin:0 0 .5rem}` +
	`p.note{color:#444}label{display:block;font-weight:600;margin:1.25rem 0 .25rem}` +
	`input{width:100%;padding:.75rem;font-size:1rem;border:2px solid #555;border-radius:.375rem;background:#fff;color:#1a1a1a}` +
	`input:focus,button:focus{outline:3px solid #0b57d0;outline-offset:2px}` +
	`button{margin-top:1rem;width:100%;padding:.8rem;font-size:1rem;font-weight:600;color:#fff;background:#0b57d0;border:0;border-radius:.375rem;cursor:pointer}` +
	`.error{color:#a50e0e;font-weight:600}`

var (
	cspHeader = "default-src 'none'; style-src 'sha256-" + cssHash() + "'; img-src 'none'; base-uri 'none'; frame-ancestors 'none'"

	pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title><style>` + pageCSS + `</style></head>
<body><main>
<h1>{{.Title}}</h1>
{{if .Form}}<p class="note">This is the built-in development identity provider. It signs you in as any address you type, with no password. It must never be enabled in production.</p>
<form method="post" action="{{.Action}}" novalidate>
<label for="email">Sign in as</label>
<input id="email" name="email" type="email" inputmode="email" autocomplete="email" required autofocus value="{{.Email}}"{{if .Error}} aria-invalid="true" aria-describedby="email-error"{{end}}>
{{if .Error}}<p id="email-error" class="error" role="alert">{{.Error}}</p>{{end}}
<button type="submit">Sign in</button>
</form>{{else}}<p class="error" role="alert">{{.Error}}</p>{{end}}
</main></body></html>
`))
)

func cssHash() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return base64.StdEncoding.EncodeToString(sum[:])
}

type page struct {
	Title  string
	Form   bool
	Action string
	Email  string
	Error  string
}

func render(w http.ResponseWriter, status int, p page) {
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, p); err != nil {
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", cspHeader)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// showLogin answers GET on the authorization endpoint: after checking the
// request as a real provider would, it shows the "Sign in as" form, which
// posts back to the same URL.
func (s *Server) showLogin(w http.ResponseWriter, r *http.Request) {
	if msg := s.checkAuthorize(r.URL.Query()); msg != "" {
		render(w, http.StatusBadRequest, page{Title: "Invalid sign-in request", Error: msg})
		return
	}
	render(w, http.StatusOK, page{Title: "Development sign-in", Form: true, Action: r.URL.RequestURI()})
}

// login answers the form's POST: it signs the browser in as the typed
// address and lets mockoidc redirect to the client with a code.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		render(w, http.StatusBadRequest, page{Title: "Invalid sign-in request", Error: "The form could not be read."})
		return
	}
	// r.Form (body first, then query) is exactly what mockoidc will read.
	if msg := s.checkAuthorize(r.Form); msg != "" {
		render(w, http.StatusBadRequest, page{Title: "Invalid sign-in request", Error: msg})
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	if !validEmail(email) {
		render(w, http.StatusBadRequest, page{
			Title: "Development sign-in", Form: true, Action: r.URL.RequestURI(), Email: email,
			Error: "Enter an e-mail address such as name@example.com.",
		})
		return
	}
	code, err := randomToken(rand.Reader)
	if err != nil {
		render(w, http.StatusInternalServerError, page{Title: "Sign-in failed", Error: "The provider could not issue a code."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// mockoidc takes the user and the code from queues; we fill them, call
	// it, and empty them again so a request it refused leaves nothing behind
	// for the next one.
	s.m.QueueUser(user{email: email, verified: !s.opts.UnverifiedEmail})
	s.m.QueueCode(code)
	s.codes[code] = r.Form.Get("redirect_uri")
	s.m.Authorize(w, r)
	s.m.UserQueue.Lock()
	s.m.UserQueue.Queue = nil
	s.m.UserQueue.Unlock()
	s.m.SessionStore.CodeQueue.Lock()
	s.m.SessionStore.CodeQueue.Queue = nil
	s.m.SessionStore.CodeQueue.Unlock()
}

// checkAuthorize returns a sentence saying what is wrong with an
// authorization request, or "" when it is acceptable. It is stricter than
// mockoidc on purpose: our client must always send PKCE S256, a nonce and
// state, and use a registered redirect_uri.
func (s *Server) checkAuthorize(q url.Values) string {
	switch {
	case subtle.ConstantTimeCompare([]byte(q.Get("client_id")), []byte(s.opts.ClientID)) != 1:
		return "Unknown client."
	case q.Get("response_type") != "code":
		return "Only the authorization-code flow (response_type=code) is supported."
	case !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		return "The scope must include openid."
	case q.Get("state") == "":
		return "The request has no state."
	case q.Get("nonce") == "":
		return "The request has no nonce."
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		return "The request must use PKCE with code_challenge_method=S256."
	}
	redirect := q.Get("redirect_uri")
	u, err := url.Parse(redirect)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return "The redirect_uri is not an absolute http(s) URL."
	}
	if len(s.opts.RedirectURIs) > 0 && !slices.Contains(s.opts.RedirectURIs, redirect) {
		return "The redirect_uri is not registered for this client."
	}
	return ""
}

// validEmail accepts a bare address with a dotted domain, the shape the
// directory can match.
func validEmail(s string) bool {
	if len(s) > 254 || strings.Count(s, "@") != 1 {
		return false
	}
	_, domain, _ := strings.Cut(s, "@")
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && strings.Contains(domain, ".")
}
