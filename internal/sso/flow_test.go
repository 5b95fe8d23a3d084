package sso

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	testKey = bytes.Repeat([]byte{0x42}, 32)
	t0      = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// countingReader yields 0, 1, 2, … so NewFlow's output is predictable.
type countingReader struct{ n byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func testFlow(t *testing.T) Flow {
	t.Helper()
	f, err := NewFlow(&countingReader{}, Google, "https://psa.example.com/auth/mobile/handoff?redirect=alga%3A%2F%2Fauth%2Fcallback&state=s", t0, 10*time.Minute)
	require.NoError(t, err)
	return f
}

func TestNewFlowDrawsThreeIndependent256BitValues(t *testing.T) {
	f := testFlow(t)
	assert.Equal(t, Google, f.Provider)
	for _, v := range []string{f.State, f.Nonce, f.Verifier} {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		require.NoError(t, err)
		assert.Len(t, raw, 32)
		assert.Len(t, v, 43, "a 43-character verifier is the RFC 7636 minimum")
	}
	assert.NotEqual(t, f.State, f.Nonce)
	assert.NotEqual(t, f.Nonce, f.Verifier)
	assert.Equal(t, t0.Add(10*time.Minute), f.Expires)
}

func TestNewFlowRefusesBadInputs(t *testing.T) {
	_, err := NewFlow(failingReader{}, Google, "", t0, time.Minute)
	assert.ErrorContains(t, err, "randomness")
	_, err = NewFlow(&countingReader{}, Google, "", t0, 0)
	assert.Error(t, err)
}

func TestCheckStateIsExact(t *testing.T) {
	f := testFlow(t)
	assert.NoError(t, f.CheckState(f.State))
	assert.ErrorIs(t, f.CheckState(""), ErrStateMismatch)
	assert.ErrorIs(t, f.CheckState(f.State+"x"), ErrStateMismatch)
	assert.ErrorIs(t, f.CheckState(strings.ToUpper(f.State)), ErrStateMismatch)
	assert.ErrorIs(t, Flow{}.CheckState(""), ErrStateMismatch, "an empty flow state never matches")
}

func TestSealedFlowRoundTripsAndHidesSecrets(t *testing.T) {
	f := testFlow(t)
	v, err := SealFlow(testKey, f)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(v, "v1."))
	for _, secret := range []string{f.State, f.Nonce, f.Verifier, "handoff"} {
		assert.NotContains(t, v, secret)
	}
	got, err := OpenFlow(testKey, v, t0.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, f, got)

	v2, err := SealFlow(testKey, f)
	require.NoError(t, err)
	assert.NotEqual(t, v, v2, "each seal uses a fresh nonce")
}

func TestOpenFlowRefusesExpired(t *testing.T) {
	f := testFlow(t)
	v, err := SealFlow(testKey, f)
	require.NoError(t, err)
	_, err = OpenFlow(testKey, v, f.Expires)
	assert.ErrorIs(t, err, ErrFlowExpired, "expiry instant itself is expired")
	_, err = OpenFlow(testKey, v, f.Expires.Add(time.Hour))
	assert.ErrorIs(t, err, ErrFlowExpired)
	_, err = OpenFlow(testKey, v, f.Expires.Add(-time.Second))
	assert.NoError(t, err)
}

func TestOpenFlowRefusesEveryTamperedByte(t *testing.T) {
	v, err := SealFlow(testKey, testFlow(t))
	require.NoError(t, err)
	raw, err := base64.RawURLEncoding.DecodeString(v[3:])
	require.NoError(t, err)
	for i := range raw {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x01
		_, err := OpenFlow(testKey, "v1."+base64.RawURLEncoding.EncodeToString(bad), t0)
		require.ErrorIs(t, err, ErrFlowInvalid, "flipped byte %d", i)
	}
}

func TestOpenFlowRefusesMalformed(t *testing.T) {
	good, err := SealFlow(testKey, testFlow(t))
	require.NoError(t, err)
	otherKey := bytes.Repeat([]byte{0x43}, 32)
	incomplete, err := SealFlow(testKey, Flow{Provider: Google, State: "s", Expires: t0.Add(time.Hour)})
	require.NoError(t, err)
	tests := []struct {
		name string
		key  []byte
		v    string
		want error
	}{
		{"empty", testKey, "", ErrFlowInvalid},
		{"prefix only", testKey, "v1.", ErrFlowInvalid},
		{"unknown version", testKey, "v2." + good[3:], ErrFlowInvalid},
		{"not base64", testKey, "v1.!!!", ErrFlowInvalid},
		{"too short", testKey, "v1.AAAA", ErrFlowInvalid},
		{"truncated", testKey, good[:len(good)-4], ErrFlowInvalid},
		{"oversized", testKey, "v1." + strings.Repeat("A", MaxSealedFlowLen), ErrFlowInvalid},
		{"sealed with another key", otherKey, good, ErrFlowInvalid},
		{"missing nonce and verifier", testKey, incomplete, ErrFlowInvalid},
		{"weak key", []byte("short"), good, ErrWeakKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenFlow(tt.key, tt.v, t0)
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

func TestSealFlowRefusesWeakKeyAndOversizedFlow(t *testing.T) {
	_, err := SealFlow(make([]byte, 31), testFlow(t))
	assert.ErrorIs(t, err, ErrWeakKey)
	f := testFlow(t)
	f.CallbackURL = "https://psa.example.com/" + strings.Repeat("a", 4000)
	_, err = SealFlow(testKey, f)
	assert.ErrorContains(t, err, "too long")
}

func FuzzOpenFlow(f *testing.F) {
	good, err := SealFlow(testKey, Flow{Provider: Google, State: "s", Nonce: "n", Verifier: "v", Expires: t0.Add(time.Hour)})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{good, "", "v1.", "v1.AAAA", good[:20], good + "A", "v1." + strings.Repeat("_", 64)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		fl, err := OpenFlow(testKey, v, t0)
		if err != nil {
			if !errors.Is(err, ErrFlowInvalid) && !errors.Is(err, ErrFlowExpired) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if fl.State == "" || fl.Nonce == "" || fl.Verifier == "" || !t0.Before(fl.Expires) {
			t.Fatalf("accepted an incomplete or expired flow: %+v", fl)
		}
	})
}
