package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// TokenService is what the token endpoints need from the use cases.
type TokenService interface {
	Exchange(ctx context.Context, req authflow.ExchangeRequest) (authflow.ExchangeResult, error)
	Refresh(ctx context.Context, req authflow.RefreshRequest) (authflow.RefreshResult, error)
	Revoke(ctx context.Context, req authflow.RevokeRequest) error
	Verify(ctx context.Context, raw string) (authflow.Principal, error)
}

// exchangeBody is SPEC §3.4's request. A field that is absent or null
// decodes as empty; the use case owns every check of the values.
type exchangeBody struct {
	OTT          string             `json:"ott"`
	State        string             `json:"state"`
	Device       *mobileauth.Device `json:"device"`
	CodeVerifier string             `json:"code_verifier"`
}

type refreshBody struct {
	RefreshToken string             `json:"refreshToken"`
	Device       *mobileauth.Device `json:"device"`
}

type revokeBody struct {
	RefreshToken string `json:"refreshToken"`
}

// jsonEndpoint is the shape of every JSON endpoint: decode strictly, make
// one use-case call, write its answer.
func jsonEndpoint[B, R any](s *Server, call func(r *http.Request, b *B) (R, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var b B
		if err := decodeJSON(r, &b); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		res, err := call(r, &b)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}

func (s *Server) exchange() http.HandlerFunc {
	return jsonEndpoint(s, func(r *http.Request, b *exchangeBody) (authflow.ExchangeResult, error) {
		return s.tokens.Exchange(r.Context(), authflow.ExchangeRequest{OTT: b.OTT, State: b.State,
			CodeVerifier: b.CodeVerifier, Device: derefDevice(b.Device), ClientIP: s.clientIP(r)})
	})
}

func (s *Server) refresh() http.HandlerFunc {
	return jsonEndpoint(s, func(r *http.Request, b *refreshBody) (authflow.RefreshResult, error) {
		return s.tokens.Refresh(r.Context(), authflow.RefreshRequest{RefreshToken: b.RefreshToken,
			Device: derefDevice(b.Device), ClientIP: s.clientIP(r)})
	})
}

// revoke answers {"ok":true} whether or not the token existed.
func (s *Server) revoke() http.HandlerFunc {
	return jsonEndpoint(s, func(r *http.Request, b *revokeBody) (map[string]bool, error) {
		err := s.tokens.Revoke(r.Context(), authflow.RevokeRequest{RefreshToken: b.RefreshToken, ClientIP: s.clientIP(r)})
		return map[string]bool{"ok": true}, err
	})
}

// verify is forward-auth (SPEC §3.7). Identity goes out in headers; the
// body is irrelevant to proxies but kept in the contract shape.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	raw := bearer(r)
	p, err := s.tokens.Verify(r.Context(), raw)
	if err != nil {
		if mobileauth.ErrorCode(err) == mobileauth.CodeUnauthorized {
			if errors.Is(err, authflow.ErrNoToken) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="alga-mobile"`)
			} else {
				w.Header().Set("WWW-Authenticate", `Bearer realm="alga-mobile", error="invalid_token"`)
			}
		}
		writeError(w, r, s.log, err)
		return
	}
	h := w.Header()
	h.Set("X-Alga-User-Id", p.UserID)
	h.Set("X-Alga-Tenant-Id", p.TenantID)
	h.Set("X-Alga-User-Email", p.Email)
	h.Set("X-Alga-Session-Id", p.SessionID)
	writeJSON(w, http.StatusOK, map[string]string{"userId": p.UserID, "tenantId": p.TenantID})
}

// bearer takes the token from Authorization: Bearer (scheme
// case-insensitive, RFC 6750) or, as AlgaPSA's app sends it, x-api-key.
func bearer(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if scheme, tok, ok := strings.Cut(a, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
	}
	return strings.TrimSpace(r.Header.Get("x-api-key"))
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_, _ = w.Write(s.jwksFn())
}

func derefDevice(d *mobileauth.Device) mobileauth.Device {
	if d == nil {
		return mobileauth.Device{}
	}
	return *d
}
