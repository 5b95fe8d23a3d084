package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nineminds/alga-mobile-auth/internal/mobileauth"
	"github.com/nineminds/alga-mobile-auth/internal/testenv"
)

// engines opens a migrated store per engine: SQLite always, PostgreSQL on
// a schema of the test's own when ALGA_TEST_POSTGRES_URL is set
// (testenv.PostgresSchema).
var engines = []struct {
	name string
	open func(t *testing.T) *Store
}{
	{DialectSQLite, func(t *testing.T) *Store {
		s, err := Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "p.db"), Options{Exclusive: true})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		require.NoError(t, s.Migrate(t.Context()))
		return s
	}},
	{DialectPostgres, func(t *testing.T) *Store {
		s, err := Open(t.Context(), testenv.PostgresSchema(t, "purgetest"), Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		require.NoError(t, s.Migrate(t.Context()))
		return s
	}},
}

// withChunkLimits sets every dialect's chunk limits for one test.
func withChunkLimits(t *testing.T, minRows, first, maxRows int) {
	saved := map[string]struct{ min, first, max int }{}
	for d, l := range chunkLimits {
		saved[d] = l
		chunkLimits[d] = struct{ min, first, max int }{minRows, first, maxRows}
	}
	t.Cleanup(func() {
		for d, l := range saved {
			chunkLimits[d] = l
		}
	})
}

var purgeT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// seedPurge adds n families of one token each, all created at purgeT0, and
// n OTTs expired at purgeT0+1m. Every third family's token is live; the
// others' all expire at the same millisecond (ties in the expiry order,
// which PostgreSQL's purge walks), and so do their families once
// FamilyRetention has passed.
func seedPurge(t *testing.T, s *Store, n int) {
	ctx := t.Context()
	for i := range n {
		id := fmt.Sprintf("fam-%03d", i)
		expires := purgeT0.Add(time.Hour) // expired at purge time
		if i%3 == 0 {
			expires = purgeT0.Add(90 * 24 * time.Hour) // live
		}
		require.NoError(t, s.CreateFamily(ctx, mobileauth.TokenFamily{ID: id, TenantID: "t", UserID: "u", CreatedAt: purgeT0},
			mobileauth.RefreshToken{Hash: mobileauth.Hash{byte(i), byte(i >> 8), 1}, CreatedAt: purgeT0, ExpiresAt: expires}))
		require.NoError(t, s.CreateOTT(ctx, mobileauth.OneTimeToken{Hash: mobileauth.Hash{byte(i), byte(i >> 8), 2}, TenantID: "t", UserID: "u",
			State: "s", CreatedAt: purgeT0, ExpiresAt: purgeT0.Add(time.Minute)}))
	}
}

func countRows(t *testing.T, s *Store, table string) int {
	var got int
	require.NoError(t, s.DB().QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&got))
	return got
}

// A purge bigger than one chunk deletes everything due, chunk by chunk,
// and nothing else: tokens (all expired at the same millisecond), and
// token-less families past retention, both those before and after live
// families in key order. A second purge finds nothing left.
func TestPurgeDeletesInChunks(t *testing.T) {
	withChunkLimits(t, 3, 3, 3)
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			s := e.open(t)
			seedPurge(t, s, 10)
			st, err := s.PurgeCycle(t.Context(), purgeT0.Add(FamilyRetention+2*time.Hour))
			require.NoError(t, err)
			assert.Equal(t, int64(10+6+6), st.Rows, "10 OTTs, 6 expired tokens, their 6 families")
			assert.Greater(t, st.Chunks, 10, "in chunks of 3 rows")
			for table, want := range map[string]int{"one_time_tokens": 0, "refresh_tokens": 4, "token_families": 4} {
				assert.Equal(t, want, countRows(t, s, table), table)
			}
			n, err := s.PurgeExpired(t.Context(), purgeT0.Add(FamilyRetention+2*time.Hour))
			require.NoError(t, err)
			assert.Zero(t, n, "a second purge (another replica's) finds nothing more")
		})
	}
}

// On SQLite the walk over the families, which every cycle makes, reads
// each chunk first and takes the one writer only where something is due
// (PostgreSQL's delete takes no table-wide lock, so it deletes straight
// away).
func TestIdlePurgeTakesNoWriter(t *testing.T) {
	withChunkLimits(t, 3, 3, 3)
	s := engines[0].open(t)
	seedPurge(t, s, 30)
	at := purgeT0.Add(FamilyRetention + 2*time.Hour)
	first, err := s.PurgeCycle(t.Context(), at)
	require.NoError(t, err)
	assert.Equal(t, int64(30+20+20), first.Rows, "30 OTTs, 20 expired tokens, their 20 families")
	assert.Equal(t, 10, countRows(t, s, "token_families"))

	// One statement per expiring table (one-time tokens, web sessions,
	// refresh tokens, rate limits), found through its expiry index,
	// whatever the table's size; none for the 10 live families (4 chunks
	// of 3), which are only read.
	const expiringTables = 4
	idle, err := s.PurgeCycle(t.Context(), at.Add(time.Minute))
	require.NoError(t, err)
	assert.Zero(t, idle.Rows)
	assert.Equal(t, expiringTables, idle.Chunks, "no delete statement for the live families")

	// A family that becomes due between live ones is still found.
	require.NoError(t, s.RevokeFamily(t.Context(), "fam-015", purgeT0))
	_, err = s.DB().ExecContext(t.Context(), "DELETE FROM refresh_tokens WHERE family_id = 'fam-015'")
	require.NoError(t, err)
	again, err := s.PurgeCycle(t.Context(), at.Add(2*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, int64(1), again.Rows)
	assert.Equal(t, expiringTables+1, again.Chunks, "one statement more, for the chunk with the due family")
	assert.Equal(t, 9, countRows(t, s, "token_families"))
}

// The row limit shrinks in proportion when a statement runs over the
// budget, grows by an eighth when one runs well under it, stays within
// its bounds, and holds between half the budget and the budget; after a
// statement over the budget it does not grow for purgeCalm.
func TestChunkerFollowsTheStatementTime(t *testing.T) {
	ms := time.Millisecond
	type stmt struct {
		took time.Duration
		at   time.Duration // when it ended, since the walk began
	}
	tests := []struct {
		name  string
		rows  int
		stmts []stmt
		want  []int // the limit after each statement
	}{
		{"a slow statement shrinks the next in proportion", 200, []stmt{{40 * ms, 0}}, []int{200 * 10 / 40 * 3 / 4}},
		{"a very slow one shrinks it to the floor", 200, []stmt{{time.Second, 0}}, []int{10}},
		{"fast statements grow it by an eighth, up to the ceiling", 240, []stmt{{ms, 0}, {ms, 20 * ms}, {ms, 40 * ms}}, []int{270, 300, 300}},
		{"a small limit still grows", 10, []stmt{{ms, 0}}, []int{11}},
		{"within half the budget and the budget it holds", 100, []stmt{{5 * ms, 0}, {10 * ms, 20 * ms}}, []int{100, 100}},
		{"after a slow one, fast ones hold it for purgeCalm", 300, []stmt{{30 * ms, 0}, {ms, 20 * ms}, {ms, purgeCalm - ms}},
			[]int{75, 75, 75}},
		{"then it grows again", 300, []stmt{{30 * ms, 0}, {ms, purgeCalm}, {ms, purgeCalm + 20*ms}}, []int{75, 84, 94}},
		{"another slow one restarts the calm", 300, []stmt{{30 * ms, 0}, {20 * ms, time.Second}, {ms, purgeCalm}, {ms, time.Second + purgeCalm}},
			[]int{75, 28, 28, 31}},
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &chunker{rows: tc.rows, min: 10, max: 300, budget: 10 * ms}
			var got []int
			for _, st := range tc.stmts {
				c.done(st.took, t0.Add(st.at))
				got = append(got, c.rows)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// fakeStopwatch is a purge clock on which every reading is step later than
// the one before, so that every statement appears to hold the store for
// step; sleeps are recorded, not slept. Its WAL meter reads walStep more
// each time (so each statement writes walStep), or nothing when
// walUnknown.
type fakeStopwatch struct {
	at         time.Time
	step       time.Duration
	sleeps     []time.Duration
	wal        int64
	walStep    int64
	walUnknown bool
}

func (f *fakeStopwatch) clock() purgeClock {
	return purgeClock{
		now: func() time.Time { f.at = f.at.Add(f.step); return f.at },
		sleep: func(_ context.Context, d time.Duration) error {
			f.sleeps = append(f.sleeps, d)
			return nil
		},
		wal: func() (int64, bool) {
			f.wal += f.walStep
			return f.wal, !f.walUnknown
		},
	}
}

// Told by its clock that every statement runs over the budget, the purge
// runs its statements at the smallest row limit after the first; told that
// they are quick, it grows them to the largest. Either way it deletes what
// is due and nothing else, and it steps aside between statements for at
// least as long as a statement held the store (purgePause at least).
func TestPurgeChunksFollowTheClock(t *testing.T) {
	withChunkLimits(t, 2, 8, 16)
	for _, e := range engines {
		for _, tc := range []struct {
			name             string
			step             time.Duration
			wantMin, wantMax int
			wantSleep        time.Duration // each pause's sleep; 0: none
			wantOverBudget   bool
		}{
			// The checkpoint between statements (one clock step) already
			// took as long as the statement.
			{"slow statements", 4 * purgeBudget, 2, 8, 0, true},
			{"quick statements", purgeBudget / 10, 8, 16, purgePause - purgeBudget/10, false},
		} {
			t.Run(e.name+"/"+tc.name, func(t *testing.T) {
				s := e.open(t)
				seedPurge(t, s, 150)
				f := &fakeStopwatch{at: purgeT0, step: tc.step}
				s.purgeClock = f.clock()
				st, err := s.PurgeCycle(t.Context(), purgeT0.Add(FamilyRetention+2*time.Hour))
				require.NoError(t, err)
				assert.Equal(t, int64(150+100+100), st.Rows, "every OTT, the expired tokens and their families")
				assert.Equal(t, 50, countRows(t, s, "refresh_tokens"))
				assert.Equal(t, 50, countRows(t, s, "token_families"))
				assert.Equal(t, tc.wantMin, st.MinChunkRows, "smallest row limit")
				assert.Equal(t, tc.wantMax, st.MaxChunkRows, "largest row limit")
				assert.Equal(t, tc.step, st.LongestChunk, "the clock's statement time")
				assert.Equal(t, tc.wantOverBudget, st.OverBudget > 0 && st.OverBudget == st.Chunks, "every statement over the budget, or none")
				assert.Zero(t, st.OverLimit, "none over %s", PurgeStatementLimit)
				assertSleeps(t, f.sleeps, tc.wantSleep)
			})
		}
	}
}

// assertSleeps checks that the purge slept want after each statement, or,
// with want 0, never.
func assertSleeps(t *testing.T, sleeps []time.Duration, want time.Duration) {
	t.Helper()
	if want == 0 {
		assert.Empty(t, sleeps)
		return
	}
	require.NotEmpty(t, sleeps)
	for _, d := range sleeps {
		assert.Equal(t, want, d)
	}
}

// walPause is the time writing the WAL takes at purgeWALRate.
func TestWALPause(t *testing.T) {
	for _, tc := range []struct {
		wal  int64
		want time.Duration
	}{
		{0, 0},
		{-1, 0},
		{purgeWALRate, time.Second},
		{purgeWALRate / 2, 500 * time.Millisecond},
		{8 << 10, 8 << 10 * time.Second / purgeWALRate}, // one page: 3.9 ms
		{10 * purgeWALRate, 10 * time.Second},
	} {
		assert.Equal(t, tc.want, walPause(tc.wal), "%d bytes", tc.wal)
	}
}

// After each statement the purge steps aside for as long as writing the
// WAL written meanwhile takes at purgeWALRate when that is longer than the
// statement (and purgePause), and counts that WAL; a server that does not
// tell its WAL position leaves the purge paced by time alone. Run on both
// engines with the injected meter (PostgreSQL's own is
// TestWALPositionIsPostgresOnly's).
func TestPurgePacesByWAL(t *testing.T) {
	withChunkLimits(t, 2, 8, 16)
	quick := purgeBudget / 10
	for _, e := range engines {
		for _, tc := range []struct {
			name       string
			step       time.Duration
			walStep    int64
			walUnknown bool
			wantSleep  time.Duration // each pause's sleep; 0: none
			wantWAL    bool
		}{
			// The statement (quick) and the pause's checkpoint step (quick)
			// count in the 0.5 s its WAL takes at purgeWALRate.
			{"a statement writing 1 MiB takes 0.5 s with its pause", quick, purgeWALRate / 2, false, 500*time.Millisecond - 2*quick, true},
			{"one writing 1 KiB pauses purgePause", quick, 1 << 10, false, purgePause - quick, true},
			{"a slow statement pauses its own time", 4 * purgeBudget, 1 << 10, false, 0, true},
			{"WAL position unknown: paced by time", quick, purgeWALRate / 2, true, purgePause - quick, false},
		} {
			t.Run(e.name+"/"+tc.name, func(t *testing.T) {
				s := e.open(t)
				seedPurge(t, s, 60)
				f := &fakeStopwatch{at: purgeT0, step: tc.step, walStep: tc.walStep, walUnknown: tc.walUnknown}
				s.purgeClock = f.clock()
				st, err := s.PurgeCycle(t.Context(), purgeT0.Add(FamilyRetention+2*time.Hour))
				require.NoError(t, err)
				assert.Equal(t, int64(60+40+40), st.Rows, "every OTT, the expired tokens and their families")
				var names []string
				var rows int64
				var chunks int
				for _, tp := range st.Tables {
					names, rows, chunks = append(names, tp.Table), rows+tp.Rows, chunks+tp.Chunks
				}
				assert.Equal(t, []string{"one_time_tokens", "web_sessions", "refresh_tokens", "rate_limits", "token_families", "audit_events"}, names, "one share per table, in walk order")
				assert.Equal(t, st.Rows, rows, "the tables' rows add up to the cycle's")
				assert.Equal(t, st.Chunks, chunks, "and so do their statements")
				if tc.wantWAL {
					assert.Equal(t, int64(st.Chunks)*tc.walStep, st.WALBytes, "each statement's WAL counted")
				} else {
					assert.Zero(t, st.WALBytes)
				}
				assertSleeps(t, f.sleeps, tc.wantSleep)
			})
		}
	}
}

// PostgreSQL tells the purge its WAL position, which moves on when a
// statement writes; SQLite has none to tell.
func TestWALPositionIsPostgresOnly(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			s := e.open(t)
			before, ok := s.walPosition(t.Context())
			if e.name == DialectSQLite {
				assert.False(t, ok)
				return
			}
			require.True(t, ok, "pg_current_wal_insert_lsn readable")
			assert.Positive(t, before)
			seedPurge(t, s, 5)
			after, ok := s.walPosition(t.Context())
			require.True(t, ok)
			assert.Greater(t, after, before, "the inserts wrote WAL")
		})
	}
}

// On PostgreSQL a purge cycle walks the expired refresh tokens from where
// the store's previous complete walk ended, less refreshWalkOverlap, so
// that its first statement does not scan past the index entries the
// previous cycle deleted: it deletes what expired since, and a token
// written later with an expiry further back (a clock that far behind) is
// left for a fresh store's walk, which starts at the beginning.
func TestPurgeWalkResumesAfterThePreviousCycle(t *testing.T) {
	withChunkLimits(t, 3, 3, 3)
	ctx := t.Context()
	u := testenv.PostgresSchema(t, "purgewalk")
	open := func() *Store {
		s, err := Open(ctx, u, Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	s := open()
	require.NoError(t, s.Migrate(ctx))
	seedPurge(t, s, 10)
	first := purgeT0.Add(2 * time.Hour)
	_, err := s.PurgeExpired(ctx, first)
	require.NoError(t, err)
	require.Equal(t, 4, countRows(t, s, "refresh_tokens"), "the 6 expired tokens went")
	for i, exp := range []time.Time{
		first.Add(-refreshWalkOverlap - time.Minute), // behind the resume point
		first.Add(-refreshWalkOverlap / 2),           // within the overlap
		first.Add(time.Minute), first.Add(2 * time.Minute), first.Add(3 * time.Minute), first.Add(4 * time.Minute),
	} {
		require.NoError(t, s.CreateFamily(ctx, mobileauth.TokenFamily{ID: fmt.Sprintf("late-%d", i), TenantID: "t", UserID: "u", CreatedAt: purgeT0},
			mobileauth.RefreshToken{Hash: mobileauth.Hash{byte(i), 9}, CreatedAt: purgeT0, ExpiresAt: exp}))
	}
	second := first.Add(time.Hour)
	_, err = s.PurgeExpired(ctx, second)
	require.NoError(t, err)
	assert.Equal(t, 4+1, countRows(t, s, "refresh_tokens"), "the 5 tokens due from the resume point on went, in chunks of 3")
	var left int
	require.NoError(t, s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM refresh_tokens WHERE family_id = 'late-0'").Scan(&left))
	assert.Equal(t, 1, left, "the token behind the resume point is left")

	_, err = open().PurgeExpired(ctx, second)
	require.NoError(t, err)
	assert.Equal(t, 4, countRows(t, s, "refresh_tokens"), "a fresh store walks from the start")
}
