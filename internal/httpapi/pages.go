package httpapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"
)

//go:embed pages/*.html pages/style.css pages/logo.svg
var pageFS embed.FS

var (
	pageTemplates = template.Must(template.ParseFS(pageFS, "pages/*.html"))
	pageCSS       = mustRead("pages/style.css")
	pageLogo      = template.HTML(mustRead("pages/logo.svg")) // #nosec: our own embedded file
	// pageCSP allows nothing external and no script at all; the one inline
	// style block is allowed by its hash.
	pageCSP = "default-src 'none'; img-src 'self' data:; style-src 'sha256-" + hashOf(pageCSS) +
		"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

func mustRead(name string) string {
	b, err := pageFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// pageData is what every page template reads.
type pageData struct {
	Title      string
	CSS        template.CSS
	Logo       template.HTML
	Error      string
	Detail     string
	SignedInAs string
	Providers  []providerLink
	Origin     string
	DeepLink   string
	Curl       string
	// Fields are the hidden inputs of a form page (the hand-off's
	// confirmation).
	Fields []formField
	// FormAction widens the CSP's form-action beyond 'self' (the
	// confirmation's POST is answered by a redirect to the app, which
	// form-action governs too).
	FormAction string
}

type formField struct{ Name, Value string }

type providerLink struct {
	Name, Href string
	Primary    bool
}

// renderPage writes an HTML page with the security headers every page of
// ours carries. Pages are never cached: they reflect session state.
func (s *Server) renderPage(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	d.CSS = template.CSS(pageCSS) //nolint:gosec // G203: pageCSS is a compiled-in constant, no input reaches it
	d.Logo = pageLogo
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, name, d); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w)
	if d.FormAction != "" {
		w.Header().Set("Content-Security-Policy", strings.Replace(pageCSP, "form-action 'self'", "form-action 'self' "+d.FormAction, 1))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}
