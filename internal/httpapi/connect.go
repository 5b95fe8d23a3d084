package httpapi

import (
	"net/http"
)

// ConnectAssets are the pre-rendered connect-this-server QR images
// (SPEC §3.8); nil means the install is not on self-host licensing and
// the endpoints answer 404.
type ConnectAssets struct {
	Origin string
	PNG    []byte
	SVG    []byte
}

func (s *Server) connectPNG(w http.ResponseWriter, r *http.Request) {
	s.connectImage(w, r, "image/png", s.opts.Connect.PNG)
}

func (s *Server) connectSVG(w http.ResponseWriter, r *http.Request) {
	s.connectImage(w, r, "image/svg+xml", s.opts.Connect.SVG)
}

func (s *Server) connectImage(w http.ResponseWriter, r *http.Request, contentType string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(b)
}

func (s *Server) connectPage(w http.ResponseWriter, r *http.Request) {
	s.renderPage(w, r, http.StatusOK, "connect", pageData{Title: "Connect the app", Origin: s.opts.Connect.Origin})
}
