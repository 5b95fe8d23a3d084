package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

// soakScenario runs the service at half its measured peak rate for the
// profile's soak time, sampling RSS, goroutines and open file descriptors
// every second, and fails on steady growth.
func soakScenario(ctx context.Context, r *rig) []verdict {
	const name = "soak"
	const users = 400
	in, sup, err := r.startSQLite(ctx, "soak", harness.Plan{Users: users, OTTUsers: users - 1, Chains: users - 1, Extra: 1})
	if err != nil {
		return []verdict{failed(name, err)}
	}
	defer in.stop()
	c := newClient(10 * time.Second)
	held, res := c.exchange(ctx, in.base, sup.Extra[0])
	if res.status != http.StatusOK {
		return []verdict{failed(name, fmt.Errorf("exchange: %s", res.kind()))}
	}
	m := newMix(c, in.base, held.access, sup.Chains)

	// Peak: closed loop, 8 clients, 3 s.
	peakCtx, stopPeak := context.WithTimeout(ctx, 3*time.Second)
	var peakN atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for peakCtx.Err() == nil {
				m.one(peakCtx)
				peakN.Add(1)
			}
		}()
	}
	wg.Wait()
	stopPeak()
	peak := float64(peakN.Load()) / 3
	rate := peak / 2

	// Soak: open loop at half the peak.
	t := newTally()
	soakCtx, stopSoak := context.WithTimeout(ctx, r.prof.soak)
	defer stopSoak()
	jobs := make(chan struct{}, 64)
	var skipped atomic.Int64
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				t.add(m.one(ctx).kind())
			}
		}()
	}
	var samples []sample
	tick := time.NewTicker(time.Second)
	pace := time.NewTicker(time.Duration(float64(time.Second) / rate))
	pid := in.proc.Pid()
loop:
	for {
		select {
		case <-soakCtx.Done():
			break loop
		case <-tick.C:
			samples = append(samples, takeSample(ctx, c, in.base, pid))
		case <-pace.C:
			select {
			case jobs <- struct{}{}:
			default:
				skipped.Add(1)
			}
		}
	}
	tick.Stop()
	pace.Stop()
	close(jobs)
	wg.Wait()

	grows, figs := steadyGrowth(samples)
	pass := !grows && t.get("200") > 0 && t.total()-t.get("200")-t.get("429") == 0 && in.count500s() == 0
	return []verdict{{name: name, pass: pass, figures: fmt.Sprintf(
		"%s at %.0f req/s (half the peak %.0f; SQLite): requests %s, not sent (clients busy) %d; %s",
		r.prof.soak, rate, peak, t, skipped.Load(), figs)}}
}

// mix is the soak's request mix: verify, capabilities, and a refresh of a
// chain whose user has not refreshed for refreshGap.
type mix struct {
	c            *client
	base, access string
	mu           sync.Mutex
	chains       []harness.Chain
	last         []time.Time
	next         int
	n            atomic.Int64
}

func newMix(c *client, base, access string, chains []harness.Chain) *mix {
	return &mix{c: c, base: base, access: access, chains: append([]harness.Chain(nil), chains...), last: make([]time.Time, len(chains))}
}

func (m *mix) one(ctx context.Context) result {
	switch m.n.Add(1) % 4 {
	case 0:
		m.mu.Lock()
		k := m.next % len(m.chains)
		m.next++
		ready := time.Since(m.last[k]) >= refreshGap
		if ready {
			m.last[k] = time.Now()
		}
		ch := m.chains[k]
		m.mu.Unlock()
		if ready {
			p, res := m.c.refresh(ctx, m.base, ch.Token, ch.IP)
			if res.status == http.StatusOK {
				m.mu.Lock()
				m.chains[k].Token = p.refresh
				m.mu.Unlock()
			}
			return res
		}
		fallthrough
	case 1, 2:
		return m.c.verify(ctx, m.base, m.access)
	default:
		return m.c.get(ctx, m.base, "/api/v1/mobile/auth/capabilities")
	}
}

// sample is one second's reading of the service process.
type sample struct{ rss, goroutines, fds float64 }

func takeSample(ctx context.Context, c *client, base string, pid int) sample {
	var s sample
	if rss, err := harness.ProcStatus(pid, "VmRSS"); err == nil {
		s.rss = float64(rss)
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		s.fds = float64(len(ents))
	}
	res := c.get(ctx, base, "/metrics")
	sc := bufio.NewScanner(bytes.NewReader(res.body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			s.goroutines, _ = strconv.ParseFloat(v, 64)
		}
	}
	return s
}

// steadyGrowth compares the thirds of the samples after a warm-up (the
// first sixth, at least 5 s): growth is steady when each third's mean is
// above the one before and the last exceeds the first by more than the
// allowance (RSS 20 %, goroutines and fds 20 % plus 10).
func steadyGrowth(all []sample) (bool, string) {
	warm := max(5, len(all)/6)
	if len(all)-warm < 6 {
		return true, fmt.Sprintf("too few samples (%d)", len(all))
	}
	s := all[warm:]
	third := len(s) / 3
	mean := func(part []sample, f func(sample) float64) float64 {
		sum := 0.0
		for _, x := range part {
			sum += f(x)
		}
		return sum / float64(len(part))
	}
	grows := false
	var figs []string
	for _, m := range []struct {
		name  string
		f     func(sample) float64
		slack float64
		unit  func(float64) string
	}{
		{"RSS", func(x sample) float64 { return x.rss }, 0, func(v float64) string { return harness.MiB(int64(v)) }},
		{"goroutines", func(x sample) float64 { return x.goroutines }, 10, func(v float64) string { return fmt.Sprintf("%.0f", v) }},
		{"fds", func(x sample) float64 { return x.fds }, 10, func(v float64) string { return fmt.Sprintf("%.0f", v) }},
	} {
		a, b, c := mean(s[:third], m.f), mean(s[third:2*third], m.f), mean(s[2*third:], m.f)
		g := b > a && c > b && c > a*1.2+m.slack
		grows = grows || g
		peak := 0.0
		for _, x := range all {
			peak = max(peak, m.f(x))
		}
		figs = append(figs, fmt.Sprintf("%s %s→%s→%s (peak %s)%s", m.name, m.unit(a), m.unit(b), m.unit(c), m.unit(peak), map[bool]string{true: " GROWING", false: ""}[g]))
	}
	return grows, fmt.Sprintf("%d samples, thirds after warm-up: %s", len(all), strings.Join(figs, "; "))
}
