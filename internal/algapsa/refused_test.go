package algapsa_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa"
	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// TestRefusedLoginIsUnavailableForEveryLookup: when AlgaPSA's database
// refuses the service's login (a wrong DB_PASSWORD_SERVER: 28P01; a role
// that does not exist or pg_hba.conf refusing it: 28000), every lookup's
// error reads as unavailable, so /refresh and /revoke answer 503 with
// Retry-After as /verify and /readyz do, never 500.
func TestRefusedLoginIsUnavailableForEveryLookup(t *testing.T) {
	logins := []struct {
		name  string
		url   func(t *testing.T) string
		state string
	}{
		{"wrong password", func(t *testing.T) string { return algapsatest.WrongPasswordURL(t) }, "28P01"},
		{"role that does not exist", func(t *testing.T) string { return algapsatest.UnknownRoleURL(t) }, "28000"},
	}
	tenant, user, family := uuid.NewString(), uuid.NewString(), uuid.NewString()
	var hash mobileauth.Hash
	lookups := []struct {
		name string
		call func(ctx context.Context, db *algapsa.DB) error
	}{
		{"Ping", func(ctx context.Context, db *algapsa.DB) error { return db.Ping(ctx) }},
		{"FindAlgaRefreshToken", func(ctx context.Context, db *algapsa.DB) error {
			_, err := db.FindAlgaRefreshToken(ctx, hash)
			return err
		}},
		{"AdoptAlgaRefreshToken", func(ctx context.Context, db *algapsa.DB) error {
			_, err := db.AdoptAlgaRefreshToken(ctx, hash)
			return err
		}},
		{"AdoptionClaimed", func(ctx context.Context, db *algapsa.DB) error {
			_, err := db.AdoptionClaimed(ctx, hash)
			return err
		}},
		{"RevokeAlgaRefreshToken", func(ctx context.Context, db *algapsa.DB) error {
			_, err := db.RevokeAlgaRefreshToken(ctx, hash)
			return err
		}},
		{"FindUsersByEmail", func(ctx context.Context, db *algapsa.DB) error {
			_, err := db.FindUsersByEmail(ctx, "tech@example.com")
			return err
		}},
		{"GetUser", func(ctx context.Context, db *algapsa.DB) error {
			_, err := db.GetUser(ctx, tenant, user)
			return err
		}},
		{"GetTenant", func(ctx context.Context, db *algapsa.DB) error {
			_, err := db.GetTenant(ctx, tenant)
			return err
		}},
		{"GetMember", func(ctx context.Context, db *algapsa.DB) error {
			_, err := db.GetMember(ctx, tenant, user)
			return err
		}},
		{"CheckWebSession", func(ctx context.Context, db *algapsa.DB) error {
			_, err := db.CheckWebSession(ctx, tenant, uuid.NewString(), user, mobileauth.UserInternal)
			return err
		}},
		{"VerifyAPIKey", func(ctx context.Context, db *algapsa.DB) error {
			_, err := db.VerifyAPIKey(ctx, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
			return err
		}},
		{"MintAPIKey", func(ctx context.Context, db *algapsa.DB) error {
			_, err := db.MintAPIKey(ctx, tenant, user, family, mobileauth.Device{}, time.Minute)
			return err
		}},
		{"RevokeFamilyKeys", func(ctx context.Context, db *algapsa.DB) error {
			_, err := db.RevokeFamilyKeys(ctx, tenant, user, family)
			return err
		}},
		{"RevokeUserKeys", func(ctx context.Context, db *algapsa.DB) error {
			_, err := db.RevokeUserKeys(ctx, tenant, user)
			return err
		}},
		{"SweepAPIKeys", func(ctx context.Context, db *algapsa.DB) error {
			_, err := db.SweepAPIKeys(ctx)
			return err
		}},
	}
	for _, login := range logins {
		t.Run(login.name, func(t *testing.T) {
			db, err := algapsa.Open(context.Background(), login.url(t), algapsa.Options{MaxConns: 1})
			require.NoError(t, err)
			t.Cleanup(db.Close)
			for _, l := range lookups {
				t.Run(l.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					err := l.call(ctx, db)
					require.Error(t, err)
					var pg interface{ SQLState() string }
					require.ErrorAs(t, err, &pg, "the server's refusal is kept in the chain: %v", err)
					assert.Equal(t, login.state, pg.SQLState())
					assert.True(t, mobileauth.Unavailable(err), "unavailable, not an internal error: %v", err)
				})
			}
		})
	}
}
