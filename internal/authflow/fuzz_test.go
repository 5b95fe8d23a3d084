package authflow_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nineminds/alga-mobile-auth/internal/authflow"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// checkRefusal fails unless err is a contract error with one of codes
// whose client message does not echo the untrusted input.
func checkRefusal(t *testing.T, err error, input string, codes ...mobileauth.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("input %q accepted", input)
	}
	var e *mobileauth.Error
	if !errors.As(err, &e) {
		t.Fatalf("input %q: uncoded error %v", input, err)
	}
	ok := false
	for _, c := range codes {
		ok = ok || e.Code == c
	}
	if !ok {
		t.Fatalf("input %q: code %s, want one of %v", input, e.Code, codes)
	}
	if len(input) >= 8 && strings.Contains(e.Message, input) {
		t.Fatalf("input %q echoed in the client message %q", input, e.Message)
	}
}

// FuzzVerify feeds untrusted bearer tokens to Verify: never a panic, never
// an acceptance, always UNAUTHORIZED.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f, withLimiter(allowAll{}))
	fx.addUsers(alice)
	valid := fx.session(alice.Email).AccessToken
	parts := strings.Split(valid, ".")
	for _, seed := range []string{"", " ", "a.b.c", "..", parts[0] + "..", parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1] + ".AAAA", "eyJhbGciOiJub25lIn0." + parts[1] + ".", valid + "x", strings.Repeat("A", 5000)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if strings.TrimSpace(raw) == valid {
			t.Skip()
		}
		_, err := fx.svc.Verify(fx.ctx, raw)
		checkRefusal(t, err, raw, mobileauth.CodeUnauthorized)
	})
}

// FuzzRefresh feeds untrusted refresh tokens to Refresh.
func FuzzRefresh(f *testing.F) {
	fx := newFixture(f, withLimiter(allowAll{}))
	for _, seed := range []string{"", "x", strings.Repeat("a", 512), strings.Repeat("a", 513), "\x00", "' OR 1=1 --"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		_, err := fx.svc.Refresh(fx.ctx, authflow.RefreshRequest{RefreshToken: raw, ClientIP: "192.0.2.1"})
		checkRefusal(t, err, raw, mobileauth.CodeUnauthorized, mobileauth.CodeValidation)
		err = fx.svc.Revoke(fx.ctx, authflow.RevokeRequest{RefreshToken: raw})
		if raw == "" {
			// The one refusal revoke has: the missing field (SPEC §3.6 still
			// answers the same for every token, known or not).
			checkRefusal(t, err, raw, mobileauth.CodeValidation)
		} else if err != nil {
			t.Fatalf("revoke %q: %v", raw, err)
		}
	})
}

// FuzzExchange feeds untrusted exchange bodies to Exchange.
func FuzzExchange(f *testing.F) {
	fx := newFixture(f, withLimiter(allowAll{}))
	f.Add("", "", "")
	f.Add("ott", "state", "")
	f.Add("ott", "state", strings.Repeat("v", 43))
	f.Add(strings.Repeat("o", 43), "\x00", "~")
	f.Fuzz(func(t *testing.T, ott, state, verifier string) {
		_, err := fx.svc.Exchange(fx.ctx, authflow.ExchangeRequest{OTT: ott, State: state, CodeVerifier: verifier, ClientIP: "192.0.2.1"})
		checkRefusal(t, err, ott, mobileauth.CodeUnauthorized, mobileauth.CodeValidation)
	})
}
