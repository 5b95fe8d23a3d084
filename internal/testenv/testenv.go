// Package testenv decides, for tests that need an outside server
// (PostgreSQL, Redis, Chromium, nginx), whether its absence is a skip (a
// developer's machine) or a failure (CI sets ALGA_TEST_REQUIRE_SERVICES=1,
// so CI never passes by skipping).
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireVar is the variable .ci/run sets to turn skips into failures.
const RequireVar = "ALGA_TEST_REQUIRE_SERVICES"

// Required reports whether missing services must fail the test run.
func Required() bool {
	v := os.Getenv(RequireVar)
	return v == "1" || v == "true"
}

// Missing skips (or, under CI, fails) the test because what is absent.
func Missing(t testing.TB, what, how string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is required (%s=1) but absent: %s", what, RequireVar, how)
	}
	t.Skipf("skipping: %s is absent (%s); CI runs this with %s=1", what, how, RequireVar)
}

// Env returns the value of name, or skips/fails the test when it is empty.
func Env(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		Missing(t, what, "set "+name)
	}
	return v
}

// PostgresURL returns ALGA_TEST_POSTGRES_URL or skips/fails.
func PostgresURL(t testing.TB) string {
	return Env(t, "ALGA_TEST_POSTGRES_URL", "PostgreSQL")
}

// RedisURL returns ALGA_TEST_REDIS_URL or skips/fails.
func RedisURL(t testing.TB) string {
	return Env(t, "ALGA_TEST_REDIS_URL", "Redis")
}

// Binary finds an executable (honouring an override variable) or skips/fails.
func Binary(t testing.TB, override, name string, fallbacks ...string) string {
	t.Helper()
	if p := os.Getenv(override); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, f := range fallbacks {
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	Missing(t, name, "not on PATH; set "+override)
	return ""
}
