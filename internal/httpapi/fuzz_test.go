package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzTokenBodies posts arbitrary bytes, with and without the JSON content
// type, to every JSON endpoint: the answer is never a 500 and always the
// contract's error shape (or the fake use case's 401), whatever the body.
func FuzzTokenBodies(f *testing.F) {
	for _, seed := range []string{`{"ott":"a","state":"b"}`, `{"refreshToken":"x"}`, `{"ott":1}`, `[]`, `{"a":`, "\x00\xff",
		`{"ott":"a","state":"b","device":{"platform":"ios"},"code_verifier":"v"}`, `{"refreshToken":"x"}{}`, `"str"`, `null`} {
		f.Add([]byte(seed), true)
	}
	s, err := New(testOptions())
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body []byte, jsonType bool) {
		for _, path := range []string{"/api/v1/mobile/auth/exchange", "/api/v1/mobile/auth/refresh", "/api/v1/mobile/auth/revoke"} {
			req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			if jsonType {
				req.Header.Set("Content-Type", "application/json")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s: %d for %q", path, rec.Code, body)
			}
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s: %d body %q is not the error shape", path, rec.Code, rec.Body.String())
			}
		}
	})
}
