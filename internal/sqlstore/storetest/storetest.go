// Package storetest is the behaviour suite that every engine of sqlstore
// must pass: SQLite in the package's own tests, PostgreSQL when
// ALGA_TEST_POSTGRES_URL is set. It checks every store method, its edge
// cases, and the concurrency guarantees replicas rely on.
package storetest

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/sqlstore"
)

// Opener returns a fresh, migrated, empty store that is closed when t ends.
type Opener func(t *testing.T) *sqlstore.Store

// Run runs the whole suite; each subtest opens its own store.
func Run(t *testing.T, open Opener) {
	t.Run("OneTimeTokens", func(t *testing.T) { testOTT(t, open) })
	t.Run("OneTimeTokenSession", func(t *testing.T) { testOTTSession(t, open) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open) })
	t.Run("Families", func(t *testing.T) { testFamilies(t, open) })
	t.Run("Rotation", func(t *testing.T) { testRotation(t, open) })
	t.Run("Revocation", func(t *testing.T) { testRevocation(t, open) })
	t.Run("Adoption", func(t *testing.T) { testAdoption(t, open) })
	t.Run("AdoptionRace", func(t *testing.T) { testAdoptionRace(t, open) })
	t.Run("SigningKeys", func(t *testing.T) { testKeys(t, open) })
	t.Run("ServerSecret", func(t *testing.T) { testServerSecret(t, open) })
	t.Run("Directory", func(t *testing.T) { testDirectory(t, open) })
	t.Run("Import", func(t *testing.T) { testImport(t, open) })
	t.Run("Tenants", func(t *testing.T) { testTenants(t, open) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open) })
	t.Run("RateLimit", func(t *testing.T) { testRateLimit(t, open) })
	t.Run("Purge", func(t *testing.T) { testPurge(t, open) })
	t.Run("PurgeAudit", func(t *testing.T) { testPurgeAudit(t, open) })
	t.Run("Ping", func(t *testing.T) { testPing(t, open) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, open) })
}

// t0 is the suite's fixed "now", millisecond-aligned like stored times.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

// at returns t0 + d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// ptr returns a pointer to t.
func ptr(t time.Time) *time.Time { return &t }

// hash names a test token by the SHA-256 of a label, as the service hashes
// its opaque tokens.
func hash(label string) mobileauth.Hash { return sha256.Sum256([]byte(label)) }

// hashPtr is hash as a pointer.
func hashPtr(label string) *mobileauth.Hash {
	h := hash(label)
	return &h
}
