package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

// burstProbe watches one burst of concurrent requests from three sides, so
// that a slow or unanswered request can be placed: the client (each
// request's outcome, total time and time until it had a connection), the
// services (their /metrics before and after: the route's server-side
// latency, the store pool's waits) and PostgreSQL (pg_stat_activity of the
// database every 50 ms: backends, and what the active ones wait on).
type burstProbe struct {
	ins   []*instance
	route string // the route pattern whose server-side latency is read
	pgURL string // "" without PostgreSQL
	db    string

	mu  sync.Mutex
	res []result

	load   string
	start  time.Time
	wall   time.Duration
	before []promText
	after  []promText

	rig          *rig
	cpu0, cpuUse cpuShares
	// overflows counts the kernel's accept-queue overflows and SYN drops
	// (machine-wide TcpExt ListenOverflows+ListenDrops) during the burst: a
	// connection that is slow to come is the client's when it is zero.
	overflows int64

	pg     pgActivity
	stopPG context.CancelFunc
	pgDone chan struct{}
}

// pgActivity is what the pg_stat_activity sampler saw.
type pgActivity struct {
	samples, peak, peakActive int
	waits                     map[string]int // active backend-samples by wait event ("CPU" when none)
	longest                   time.Duration  // longest-running active statement seen
	err                       error
}

func (r *rig) newBurstProbe(ins []*instance, route, pgURL, db string) *burstProbe {
	return &burstProbe{rig: r, ins: ins, route: route, pgURL: pgURL, db: db, pg: pgActivity{waits: map[string]int{}}}
}

// begin scrapes every service's /metrics and starts the sampler.
func (b *burstProbe) begin(ctx context.Context, c *client) {
	b.before = scrapeAll(ctx, c, b.ins)
	b.load = loadAverage()
	if b.pgURL != "" {
		sctx, cancel := context.WithCancel(ctx)
		b.stopPG, b.pgDone = cancel, make(chan struct{})
		go func() { defer close(b.pgDone); b.samplePG(sctx) }()
	}
	b.cpu0 = b.cpuNow(b.rig)
	b.overflows = listenOverflows()
	b.start = time.Now()
}

// add records one request's result.
func (b *burstProbe) add(r result) {
	b.mu.Lock()
	b.res = append(b.res, r)
	b.mu.Unlock()
}

// end stops the sampler and scrapes /metrics again.
func (b *burstProbe) end(ctx context.Context, c *client) {
	b.wall = time.Since(b.start)
	b.cpuUse = b.cpuNow(b.rig).minus(b.cpu0)
	b.overflows = listenOverflows() - b.overflows
	if b.stopPG != nil {
		b.stopPG()
		<-b.pgDone
	}
	b.after = scrapeAll(ctx, c, b.ins)
}

func (b *burstProbe) samplePG(ctx context.Context) {
	db, err := sql.Open("pgx", b.pgURL)
	if err != nil {
		b.pg.err = err
		return
	}
	defer func() { _ = db.Close() }()
	db.SetMaxOpenConns(1)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rows, err := db.QueryContext(ctx, `SELECT coalesce(state, ''), coalesce(wait_event_type || ':' || wait_event, 'CPU'),
			coalesce(extract(epoch FROM now() - query_start), 0)
			FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()`, b.db)
		if err != nil {
			if ctx.Err() == nil {
				b.pg.err = err
			}
			return
		}
		n, active := 0, 0
		for rows.Next() {
			var state, wait string
			var secs float64
			if rows.Scan(&state, &wait, &secs) != nil {
				continue
			}
			n++
			if state == "active" {
				active++
				b.pg.waits[wait]++
				b.pg.longest = max(b.pg.longest, time.Duration(secs*float64(time.Second)))
			}
		}
		_ = rows.Close()
		b.pg.samples++
		b.pg.peak, b.pg.peakActive = max(b.pg.peak, n), max(b.pg.peakActive, active)
	}
}

// clientSummary is the client's view: a latency histogram of every
// request (answered or not) and how long requests waited for a connection.
func (b *burstProbe) clientSummary() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	edges := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second}
	counts := make([]int, len(edges)+1)
	var conns []time.Duration
	noConn := 0
	for _, r := range b.res {
		i := sort.Search(len(edges), func(i int) bool { return r.dur <= edges[i] })
		counts[i]++
		if r.gotConn > 0 {
			conns = append(conns, r.gotConn)
		} else {
			noConn++
		}
	}
	var parts []string
	for i, n := range counts {
		if n == 0 {
			continue
		}
		if i < len(edges) {
			parts = append(parts, fmt.Sprintf("≤%s×%d", shortDur(edges[i]), n))
		} else {
			parts = append(parts, fmt.Sprintf(">%s×%d", shortDur(edges[len(edges)-1]), n))
		}
	}
	sort.Slice(conns, func(i, j int) bool { return conns[i] < conns[j] })
	connQ := func(q float64) string {
		if len(conns) == 0 {
			return "-"
		}
		return ms(conns[int(q*float64(len(conns)-1))])
	}
	return fmt.Sprintf("client: burst %s at load %s, latency %s; connection after p50 %s max %s (none: %d; listen overflows and SYN drops %d)",
		b.wall.Round(time.Millisecond), b.load, strings.Join(parts, " "), connQ(0.5), connQ(1), noConn, b.overflows)
}

// serverSummary is the services' view, summed over the replicas: how many
// requests the route handled and its latency buckets, and the store pool's
// waits during the burst.
func (b *burstProbe) serverSummary() string {
	if len(b.before) != len(b.ins) || len(b.after) != len(b.ins) {
		return "server: /metrics not read"
	}
	buckets := map[float64]float64{}
	var count, sum, waits, waitSecs, maxOpen float64
	hist := "alga_mobile_http_request_duration_seconds"
	routeLabel := `route="` + b.route + `"`
	for i := range b.ins {
		d := b.after[i].minus(b.before[i])
		for k, v := range d {
			name, labels := splitSeries(k)
			switch {
			case name == hist+"_bucket" && strings.Contains(labels, routeLabel):
				if le, err := strconv.ParseFloat(labelValue(labels, "le"), 64); err == nil {
					buckets[le] += v
				}
			case name == hist+"_count" && strings.Contains(labels, routeLabel):
				count += v
			case name == hist+"_sum" && strings.Contains(labels, routeLabel):
				sum += v
			case name == "go_sql_wait_count_total":
				waits += v
			case name == "go_sql_wait_duration_seconds_total":
				waitSecs += v
			}
		}
		maxOpen += b.after[i].get("go_sql_max_open_connections")
	}
	mean := 0.0
	if count > 0 {
		mean = sum / count
	}
	poolMean := 0.0
	if waits > 0 {
		poolMean = waitSecs / waits
	}
	return fmt.Sprintf("server: handled %.0f, mean %s, p50 %s, p99 %s; database/sql pool (%.0f connections in all) waits %.0f, mean wait %s",
		count, ms(secs(mean)), bucketQuantile(buckets, count, 0.5), bucketQuantile(buckets, count, 0.99), maxOpen, waits, ms(secs(poolMean)))
}

// storeOps is the store operations the services ran during the burst:
// count and mean duration (pool wait included) by operation.
func (b *burstProbe) storeOps() string {
	if len(b.before) != len(b.ins) || len(b.after) != len(b.ins) {
		return ""
	}
	count, sum := map[string]float64{}, map[string]float64{}
	for i := range b.ins {
		for k, v := range b.after[i].minus(b.before[i]) {
			name, labels := splitSeries(k)
			switch name {
			case "alga_mobile_store_duration_seconds_count":
				count[labelValue(labels, "op")] += v
			case "alga_mobile_store_duration_seconds_sum":
				sum[labelValue(labels, "op")] += v
			}
		}
	}
	ops := make([]string, 0, len(count))
	for op, n := range count {
		if n > 0 {
			ops = append(ops, op)
		}
	}
	sort.Strings(ops)
	parts := make([]string, len(ops))
	for i, op := range ops {
		parts[i] = fmt.Sprintf("%s %.0f×%s", op, count[op], ms(secs(sum[op]/count[op])))
	}
	return "store operations (count × mean, pool wait included): " + strings.Join(parts, ", ")
}

// pgSummary is PostgreSQL's view of the database during the burst.
func (b *burstProbe) pgSummary() string {
	if b.pgURL == "" {
		return ""
	}
	if b.pg.err != nil {
		return "postgres: sampler failed: " + b.pg.err.Error()
	}
	keys := make([]string, 0, len(b.pg.waits))
	for k := range b.pg.waits {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return b.pg.waits[keys[i]] > b.pg.waits[keys[j]] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, b.pg.waits[k])
	}
	return fmt.Sprintf("postgres: %d samples, peak %d backends (%d active), active backend-samples by wait %s, longest statement %s",
		b.pg.samples, b.pg.peak, b.pg.peakActive, strings.Join(parts, " "), ms(b.pg.longest))
}

// report logs every view and returns the short form for a verdict line.
func (b *burstProbe) report(logf func(string, ...any), name string) string {
	c, s := b.clientSummary(), b.serverSummary()
	logf("%s %s", name, c)
	logf("%s %s", name, s)
	logf("%s %s", name, b.storeOps())
	if p := b.pgSummary(); p != "" {
		logf("%s %s", name, p)
	}
	u := b.cpuUse
	cpu := fmt.Sprintf("cpu: %s of the machine's %s (2 cores × the burst), of which services %s, postgres %s, redis %s, this program %s, others %s",
		shortDur(u.machine.Round(10*time.Millisecond)), shortDur((2 * b.wall).Round(10*time.Millisecond)),
		shortDur(u.services), shortDur(u.postgres), shortDur(u.redis), shortDur(u.client),
		shortDur(max(0, u.machine-u.services-u.postgres-u.redis-u.client)))
	logf("%s %s", name, cpu)
	return c + "; " + s + "; " + cpu
}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// shortDur prints 50ms, 1s, 2.5s.
func shortDur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return strconv.FormatFloat(math.Round(d.Seconds()*100)/100, 'f', -1, 64) + "s"
}

// bucketQuantile reads the q-quantile off cumulative histogram buckets as
// "≤ upper bound".
func bucketQuantile(buckets map[float64]float64, count, q float64) string {
	if count == 0 {
		return "-"
	}
	les := make([]float64, 0, len(buckets))
	for le := range buckets {
		les = append(les, le)
	}
	sort.Float64s(les)
	for _, le := range les {
		if buckets[le] >= q*count {
			if math.IsInf(le, 1) {
				break
			}
			return "≤" + shortDur(secs(le))
		}
	}
	if len(les) > 1 {
		return ">" + shortDur(secs(les[len(les)-2]))
	}
	return "?"
}

// promText is one scrape of a Prometheus text exposition: series → value.
type promText map[string]float64

func scrapeAll(ctx context.Context, c *client, ins []*instance) []promText {
	out := make([]promText, 0, len(ins))
	for _, in := range ins {
		r := c.get(ctx, in.base, "/metrics")
		if r.status != 200 {
			return nil
		}
		out = append(out, parseProm(string(r.body)))
	}
	return out
}

func parseProm(text string) promText {
	p := promText{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			p[line[:i]] = v
		}
	}
	return p
}

// minus is the change since before (counters and histograms).
func (p promText) minus(before promText) promText {
	d := promText{}
	for k, v := range p {
		d[k] = v - before[k]
	}
	return d
}

// get sums every series of the metric name.
func (p promText) get(name string) float64 {
	t := 0.0
	for k, v := range p {
		if n, _ := splitSeries(k); n == name {
			t += v
		}
	}
	return t
}

func splitSeries(k string) (name, labels string) {
	if i := strings.IndexByte(k, '{'); i >= 0 {
		return k[:i], k[i:]
	}
	return k, ""
}

func labelValue(labels, name string) string {
	_, rest, ok := strings.Cut(labels, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// loadAverage is the 1-minute load average, as uptime prints it.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// cpuShares is the CPU time (user+system, from /proc) each party used.
type cpuShares struct {
	client, services, postgres, redis, machine time.Duration
}

// cpuNow reads the CPU time used so far by this program, the services,
// every PostgreSQL process of the cluster, Redis and the whole machine
// (all processes: /proc/stat), so that a burst's CPU can be split.
func (b *burstProbe) cpuNow(r *rig) cpuShares {
	var s cpuShares
	s.client = procCPU(os.Getpid())
	for _, in := range b.ins {
		if in.proc != nil {
			s.services += procCPU(in.proc.Pid())
		}
	}
	if r.redis != nil && r.redis.proc != nil && r.redis.proc.Process != nil {
		s.redis = procCPU(r.redis.proc.Process.Pid)
	}
	if r.pg != nil {
		s.postgres = r.pg.cpu()
	}
	s.machine = machineCPU()
	return s
}

func (s cpuShares) minus(o cpuShares) cpuShares {
	return cpuShares{client: s.client - o.client, services: s.services - o.services, postgres: s.postgres - o.postgres,
		redis: s.redis - o.redis, machine: s.machine - o.machine}
}

// clockTick is USER_HZ, the unit of /proc's CPU times (100 on Linux).
const clockTick = 10 * time.Millisecond

// machineCPU is the CPU time every process of the machine has used
// (user, nice, system, irq, softirq from the cpu line of /proc/stat).
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var t int64
	for _, i := range []int{1, 2, 3, 6, 7} {
		if i < len(f) {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			t += v
		}
	}
	return time.Duration(t) * clockTick
}

// cpu is the CPU time used by the postmaster and its children (the
// backends, including those that have exited are not counted: a
// backend's time is added to the postmaster's only when it is reaped
// with cutime, which procCPU leaves out, so read it while they live).
func (p *postgres) cpu() time.Duration {
	data, err := os.ReadFile(filepath.Join(p.dir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(data), "\n")
	master, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0
	}
	t := procCPU(master)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if ppid, ok := harness.ProcPPID(pid); err == nil && ok && ppid == master {
			t += procCPU(pid)
		}
	}
	return t
}

// listenOverflows is TcpExt ListenOverflows + ListenDrops from
// /proc/net/netstat (-1 when unreadable).
func listenOverflows() int64 {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return -1
	}
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "TcpExt:") || !strings.HasPrefix(lines[i+1], "TcpExt:") {
			continue
		}
		names, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		var t int64
		for j, n := range names {
			if (n == "ListenOverflows" || n == "ListenDrops") && j < len(vals) {
				v, _ := strconv.ParseInt(vals[j], 10, 64)
				t += v
			}
		}
		return t
	}
	return -1
}

// procCPU is pid's CPU time so far (0 when it cannot be read).
func procCPU(pid int) time.Duration {
	d, _ := harness.ProcCPU(pid)
	return d
}
