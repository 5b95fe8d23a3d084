package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The purge verdict from the service's side. What a purge can hold up is a
// request's wait for the store (SQLite's one writer, PostgreSQL's locks
// and WAL flushes); the scenario's own client also waits for the CPU that
// it shares with the service, PostgreSQL and the purge on this 2-core
// machine, so its latencies include time no server spent on the request.
// The service's access log times each request from the handler's start to
// its end, in the same process as the purge, and its /metrics time every
// store operation: those are what the verdict judges.

// servedRequest is one line of a service's access log.
type servedRequest struct {
	start, end time.Time
	route      string
	status     int
	dur        time.Duration
}

// logRecords returns the lines of a service's JSON log whose message is msg.
func logRecords(logs, msg string) []string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"msg":"`+msg+`"`) {
			out = append(out, line)
		}
	}
	return out
}

// fromMillis is a log's duration field (milliseconds, fractional).
func fromMillis(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// accessLog parses the access-log lines ("request") of a service's log.
func accessLog(logs string) []servedRequest {
	var out []servedRequest
	for _, line := range logRecords(logs, "request") {
		var e struct {
			Time     time.Time `json:"time"`
			Route    string    `json:"route"`
			Status   int       `json:"status"`
			Duration float64   `json:"duration_ms"`
		}
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		d := fromMillis(e.Duration)
		out = append(out, servedRequest{start: e.Time.Add(-d), end: e.Time, route: e.Route, status: e.Status, dur: d})
	}
	return out
}

// servedSide is the service's view of the requests before and during a
// purge cycle, and in the control window after it.
type servedSide struct {
	before, during, control *latencies
	over50                  int             // requests during the cycle over 50 ms
	controlOver50           int             // requests in the control window over 50 ms
	slowest                 []servedRequest // the slowest during the cycle, slowest first
	slow                    []servedRequest // every one over 50 ms during the cycle
}

// inSync counts the requests over 50 ms that overlapped a checkpoint's
// sync phase.
func (s servedSide) inSync(c *checkpointLog) int {
	n := 0
	for _, r := range s.slow {
		if c.syncing(r.start, r.end) {
			n++
		}
	}
	return n
}

// servedAround splits the served requests of the route ending in route
// into those that ended before the cycle began, from warm on, those that
// overlapped it, and those inside the control window [from, to).
func servedAround(reqs []servedRequest, route string, warm time.Time, cycle purgeCycle, from, to time.Time) servedSide {
	s := servedSide{before: &latencies{}, during: &latencies{}, control: &latencies{}}
	var during []servedRequest
	for _, r := range reqs {
		if !strings.HasSuffix(r.route, "/"+route) {
			continue
		}
		switch {
		case r.end.Before(cycle.start) && r.start.After(warm):
			s.before.add(r.dur)
		case !r.start.Before(from) && r.end.Before(to):
			s.control.add(r.dur)
			if r.dur > 50*time.Millisecond {
				s.controlOver50++
			}
		case !r.end.Before(cycle.start) && r.start.Before(cycle.end):
			s.during.add(r.dur)
			during = append(during, r)
			if r.dur > 50*time.Millisecond {
				s.over50++
				s.slow = append(s.slow, r)
			}
		}
	}
	sort.Slice(during, func(i, j int) bool { return during[i].dur > during[j].dur })
	s.slowest = during[:min(5, len(during))]
	return s
}

// heldUp is what the cycle added to the slowest thousandth of requests:
// the 99.9th percentile during it beyond that of the same load in the
// control window after it. Not the single slowest request: on this 2-core
// machine the control window, with no purge, has its own outliers past
// 50 ms (a descheduled process, a checkpoint), and the longer the window
// the more; a purge that held requests up would move the whole tail.
func (s servedSide) heldUp() time.Duration {
	return max(0, s.during.quantile(0.999)-s.control.quantile(0.999))
}

// describeSlowest prints the slowest requests with when they ended
// relative to the cycle's start and the machine's pressure meanwhile.
func (s servedSide) describeSlowest(cycle purgeCycle, p *pressure, ckpt *checkpointLog) string {
	parts := make([]string, 0, len(s.slowest))
	for _, r := range s.slowest {
		route := r.route[strings.LastIndexByte(r.route, '/')+1:]
		part := fmt.Sprintf("%s %s at +%s", route, ms(r.dur), r.end.Sub(cycle.start).Round(time.Millisecond))
		var notes []string
		if sh := p.share(r.start, r.end); sh != "" {
			notes = append(notes, sh)
		}
		if ckpt.syncing(r.start, r.end) {
			notes = append(notes, "during a checkpoint's sync")
		}
		if len(notes) > 0 {
			part += " (" + strings.Join(notes, ", ") + ")"
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}

// storeOps counts, from one scrape of a service's /metrics, the store
// operations other than the purge's own and how many took over 50 ms,
// and the upper bound of the slowest one's bucket.
func storeOps(p promText) (total, over50 float64, slowest string) {
	const name = "alga_mobile_store_duration_seconds"
	type hist struct {
		count   float64
		buckets map[float64]float64
	}
	ops := map[string]*hist{}
	get := func(op string) *hist {
		if ops[op] == nil {
			ops[op] = &hist{buckets: map[float64]float64{}}
		}
		return ops[op]
	}
	for k, v := range p {
		n, labels := splitSeries(k)
		op := labelValue(labels, "op")
		if op == "" || op == "PurgeExpired" {
			continue
		}
		switch n {
		case name + "_count":
			get(op).count = v
		case name + "_bucket":
			var le float64
			if s := labelValue(labels, "le"); s == "+Inf" {
				le = math.Inf(1)
			} else if _, err := fmt.Sscan(s, &le); err != nil {
				continue
			}
			get(op).buckets[le] = v
		}
	}
	top := 0.0
	for _, h := range ops {
		total += h.count
		over50 += h.count - h.buckets[0.05]
		les := make([]float64, 0, len(h.buckets))
		for le := range h.buckets {
			les = append(les, le)
		}
		sort.Float64s(les)
		for _, le := range les {
			if h.buckets[le] >= h.count {
				top = max(top, le)
				break
			}
		}
	}
	slowest = "≤" + shortDur(secs(top))
	if math.IsInf(top, 1) {
		slowest = ">250ms"
	}
	return total, over50, slowest
}

// pressure samples the kernel's pressure stall information (PSI): the
// time in which at least one task waited for a CPU (/proc/pressure/cpu,
// "some") or for I/O. A request slowed down while the machine's tasks
// queued for its two cores was held up by the machine, not by a lock or
// a writer the purge held.
type pressure struct {
	mu      sync.Mutex
	samples []pressureSample
}

type pressureSample struct {
	at      time.Time
	cpu, io time.Duration // cumulative "some" stall time
}

// run samples every 100 ms until ctx ends (nothing where PSI is absent).
func (p *pressure) run(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		cpu, okCPU := psiSome("/proc/pressure/cpu")
		io, okIO := psiSome("/proc/pressure/io")
		if !okCPU || !okIO {
			return
		}
		p.mu.Lock()
		p.samples = append(p.samples, pressureSample{at: time.Now(), cpu: cpu, io: io})
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// psiSome reads the "some" line's total (microseconds) of a PSI file.
func psiSome(path string) (time.Duration, bool) {
	b, err := os.ReadFile(path) //nolint:gosec // G304: a fixed /proc path
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "some ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "total="); ok {
				us, err := strconv.ParseInt(v, 10, 64)
				return time.Duration(us) * time.Microsecond, err == nil
			}
		}
	}
	return 0, false
}

// share is the fraction of [from, to] (widened to the samples around it)
// in which tasks waited for a CPU and for I/O, as "cpu 12% io 3%", or ""
// without samples.
func (p *pressure) share(from, to time.Time) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var a, b *pressureSample
	for i := range p.samples {
		s := &p.samples[i]
		if !s.at.After(from) {
			a = s
		}
		if b == nil && !s.at.Before(to) {
			b = s
		}
	}
	if a == nil || b == nil || !b.at.After(a.at) {
		return ""
	}
	wall := float64(b.at.Sub(a.at))
	return fmt.Sprintf("cpu %.0f%% io %.0f%%", 100*float64(b.cpu-a.cpu)/wall, 100*float64(b.io-a.io)/wall)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// checkpointLog is what the run's PostgreSQL log says about checkpoints
// (log_checkpoints): when each finished its writes and synced the data
// files. A commit waits for its WAL fsync, and while the checkpointer
// fsyncs the data files that the purge (and everyone) dirtied, the disk
// answers that fsync late.
//
// It also holds the log's lock waits (log_lock_waits): on PostgreSQL a
// purge statement holds up a request only if the request waits for a row
// it locked, and the rig's cluster logs every lock wait that reaches 50 ms
// (deadlock_timeout).
type checkpointLog struct {
	started   []time.Time    // "checkpoint starting"
	syncs     [][2]time.Time // each sync phase: [complete − sync, complete]
	lockWaits []time.Time    // "still waiting for …": a wait reached 50 ms
}

// readCheckpoints parses the cluster's log at path; nil when unreadable.
func readCheckpoints(path string) *checkpointLog {
	b, err := os.ReadFile(path) //nolint:gosec // G304: the run's own cluster log
	if err != nil {
		return nil
	}
	c := &checkpointLog{}
	for _, line := range strings.Split(string(b), "\n") {
		if len(line) < 23 || !strings.Contains(line, "checkpoint ") && !strings.Contains(line, " still waiting for ") {
			continue
		}
		at, err := time.Parse("2006-01-02 15:04:05.000", line[:23])
		if err != nil {
			continue
		}
		switch {
		case strings.Contains(line, " still waiting for "):
			c.lockWaits = append(c.lockWaits, at)
		case strings.Contains(line, "checkpoint starting:"):
			c.started = append(c.started, at)
		case strings.Contains(line, "checkpoint complete:"):
			_, rest, ok := strings.Cut(line, " sync=")
			if !ok {
				continue
			}
			secs, _, _ := strings.Cut(rest, " s")
			if v, err := strconv.ParseFloat(secs, 64); err == nil {
				c.syncs = append(c.syncs, [2]time.Time{at.Add(-time.Duration(v * float64(time.Second))), at})
			}
		}
	}
	return c
}

// lockWaitsIn counts the lock waits that reached 50 ms in [from, to].
func (c *checkpointLog) lockWaitsIn(from, to time.Time) int {
	if c == nil {
		return 0
	}
	return countIn(c.lockWaits, from, to)
}

// during counts the checkpoints started in [from, to].
func (c *checkpointLog) during(from, to time.Time) int {
	if c == nil {
		return 0
	}
	return countIn(c.started, from, to)
}

// countIn counts the times in [from, to].
func countIn(ts []time.Time, from, to time.Time) int {
	n := 0
	for _, at := range ts {
		if !at.Before(from) && !at.After(to) {
			n++
		}
	}
	return n
}

// syncing says whether a checkpoint's sync phase overlapped [from, to]
// (100 ms of slack for the log's clock and the request's own work).
func (c *checkpointLog) syncing(from, to time.Time) bool {
	if c == nil {
		return false
	}
	for _, s := range c.syncs {
		if !s[0].After(to.Add(100*time.Millisecond)) && !s[1].Before(from.Add(-100*time.Millisecond)) {
			return true
		}
	}
	return false
}
