package algapsa

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/algapsa/algapsatest"
	"github.com/nineminds/alga-mobile-auth/internal/harness"
	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
)

// BenchmarkMintAPIKey is a refresh's mint for a user who holds a week of
// inactive keys (a phone refreshing every 15 minutes leaves ~670), in a
// tenant of 200 other users with 40 keys each, with
// the family's last key remembered (the replica that minted it), without
// (after a restart, or more families than the hints hold: deactivateFamily,
// the statement of before the hints) and with a stale one (another replica
// minted since);
// compare them in one run: go test -bench MintAPIKey -run '^$' ./internal/algapsa
// Beside the time per mint (a round trip on a shared machine), db-µs/op is
// the CPU time of the database's process serving the one connection, when
// the server runs on this machine: what the mint costs AlgaPSA's database.
func BenchmarkMintAPIKey(b *testing.B) {
	sdb := algapsatest.New(b)
	d, err := Open(context.Background(), sdb.AppURL, Options{MaxConns: 1})
	require.NoError(b, err)
	b.Cleanup(d.Close)
	u := sdb.AddUser(b, algapsatest.User{Email: "ann@example.com"})
	seedKeyHistory(b, sdb, u, 670)
	sdb.Exec(b, "ANALYZE api_keys")
	var inactive string
	require.NoError(b, sdb.Admin.QueryRow(context.Background(), "SELECT api_key_id::text FROM api_keys LIMIT 1").Scan(&inactive))
	ctx := context.Background()
	var backend int
	require.NoError(b, d.pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend))
	for _, bc := range []struct {
		name string
		hint string // "" remembered, "-" none, else this stale key
	}{{"remembered", ""}, {"not remembered", "-"}, {"stale", inactive}} {
		b.Run(bc.name, func(b *testing.B) {
			n := 0
			cpu0, local := harness.ProcCPU(backend)
			for b.Loop() {
				if n++; n%100 == 0 {
					// Keep the user at 670-770 keys, and the table free of
					// the dead rows the deletion leaves.
					b.StopTimer()
					sdb.Exec(b, "DELETE FROM api_keys WHERE metadata->>'familyId' = 'fam' AND NOT active")
					sdb.Exec(b, "VACUUM api_keys")
					b.StartTimer()
				}
				switch bc.hint {
				case "":
				case "-":
					d.hints.forget("fam")
				default:
					d.hints.set("fam", bc.hint)
				}
				if _, err := d.MintAPIKey(ctx, u.TenantID, u.ID, "fam", mobileauth.Device{}, hintTTL); err != nil {
					b.Fatal(err)
				}
			}
			if cpu1, _ := harness.ProcCPU(backend); local {
				b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "db-µs/op")
			}
			// Each mint adds a key: start the other case from the same table.
			b.StopTimer()
			sdb.Exec(b, "DELETE FROM api_keys WHERE metadata->>'familyId' = 'fam'")
			b.StartTimer()
		})
	}
}
