package fixture

import "testing"

func TestPasses(t *testing.T) {}

func TestFails(t *testing.T) { t.Fatal("the answer was 41") }

func TestSkipsForPostgres(t *testing.T) { t.Skip("skipping: PostgreSQL is absent") }

func TestAlsoSkipsForPostgres(t *testing.T) { t.Skip("skipping: PostgreSQL is absent") }

func TestSubtests(t *testing.T) {
	t.Run("one", func(t *testing.T) {})
	t.Run("two", func(t *testing.T) { t.Skip("skipping: Redis is absent") })
}
