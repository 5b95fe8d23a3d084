package mobileauth

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTier(t *testing.T) {
	tests := []struct {
		in   string
		want Tier
		ok   bool
	}{
		{"essentials", TierEssentials, true}, {"Solo", TierSolo, true}, {" pro ", TierPro, true},
		{"premium", TierPro, true}, {"gold", "", false}, {"", "", false},
	}
	for _, tt := range tests {
		got, err := ParseTier(tt.in)
		assert.Equal(t, tt.want, got, tt.in)
		assert.Equal(t, tt.ok, err == nil, tt.in)
	}
}

func TestTierOrderAndMobileAccess(t *testing.T) {
	assert.Less(t, TierEssentials.Rank(), TierSolo.Rank())
	assert.Less(t, TierSolo.Rank(), TierPro.Rank())
	assert.False(t, TierEssentials.AllowsMobile())
	assert.True(t, TierSolo.AllowsMobile())
	assert.True(t, TierPro.AllowsMobile())
	assert.False(t, Tier("bogus").AllowsMobile())
}

func TestParseUserType(t *testing.T) {
	ut, err := ParseUserType("Internal")
	require.NoError(t, err)
	assert.Equal(t, UserInternal, ut)
	ut, err = ParseUserType("client")
	require.NoError(t, err)
	assert.Equal(t, UserClient, ut)
	_, err = ParseUserType("admin")
	assert.Error(t, err)
}

func TestErrorCodeAndWrapping(t *testing.T) {
	cause := errors.New("db down")
	e := WrapError(CodeUnauthorized, "Invalid or expired token", cause)
	wrapped := fmt.Errorf("exchange: %w", e)
	assert.Equal(t, CodeUnauthorized, ErrorCode(wrapped))
	assert.ErrorIs(t, wrapped, cause)
	assert.Equal(t, CodeInternal, ErrorCode(errors.New("plain")), "uncoded errors are internal")
	assert.Equal(t, CodeValidation, ErrorCode(Errorf(CodeValidation, "x %d", 1)))
}

func TestSessionValidity(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := WebSession{ExpiresAt: now.Add(time.Minute)}
	assert.True(t, s.Valid(now))
	assert.False(t, s.Valid(now.Add(time.Minute)))
	s.RevokedAt = &now
	assert.False(t, s.Valid(now))
}

func TestUserName(t *testing.T) {
	assert.Equal(t, "Ann Lee", User{FirstName: "Ann", LastName: "Lee"}.Name())
	assert.Equal(t, "Ann", User{FirstName: "Ann"}.Name())
}
