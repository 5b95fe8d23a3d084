package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// storeMetric is the service's histogram of store operations; its time
// runs from the call, so on SQLite it includes waiting for the single
// connection.
const storeMetric = "alga_mobile_store_duration_seconds"

// opStat is one store operation's count and total seconds.
type opStat struct {
	count, sum float64
}

// storeStats maps a store operation to its totals.
type storeStats map[string]opStat

// scrapeStore reads the store histogram's sums and counts from /metrics;
// nil when the service does not answer (the report then omits them).
func scrapeStore(metricsURL string) storeStats {
	if metricsURL == "" {
		return nil
	}
	resp, err := getMetrics(metricsURL)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	st := storeStats{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var isSum bool
		switch {
		case strings.HasPrefix(line, storeMetric+"_sum{"):
			isSum = true
		case strings.HasPrefix(line, storeMetric+"_count{"):
		default:
			continue
		}
		op, rest, ok := cutLabel(line, "op")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			continue
		}
		s := st[op]
		if isSum {
			s.sum = v
		} else {
			s.count = v
		}
		st[op] = s
	}
	return st
}

// cutLabel finds label="value" in a metric line and returns the value and
// what follows the closing brace (the sample value).
func cutLabel(line, label string) (value, rest string, ok bool) {
	i := strings.Index(line, label+`="`)
	if i < 0 {
		return "", "", false
	}
	v := line[i+len(label)+2:]
	j := strings.IndexByte(v, '"')
	if j < 0 {
		return "", "", false
	}
	k := strings.IndexByte(line, '}')
	if k < 0 {
		return "", "", false
	}
	return v[:j], line[k+1:], true
}

// minus is s - before, per operation.
func (s storeStats) minus(before storeStats) storeStats {
	if s == nil || before == nil {
		return nil
	}
	d := storeStats{}
	for op, v := range s {
		b := before[op]
		if n := v.count - b.count; n > 0 {
			d[op] = opStat{count: n, sum: v.sum - b.sum}
		}
	}
	return d
}

// add accumulates o into s.
func (s storeStats) add(o storeStats) storeStats {
	if s == nil {
		s = storeStats{}
	}
	for op, v := range o {
		c := s[op]
		s[op] = opStat{count: c.count + v.count, sum: c.sum + v.sum}
	}
	return s
}

// perRequestLine renders "Op ×calls/req mean µs" for n requests, busiest first.
func (s storeStats) perRequestLine(n int) string {
	if len(s) == 0 || n == 0 {
		return ""
	}
	ops := make([]string, 0, len(s))
	for op := range s {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return s[ops[i]].sum > s[ops[j]].sum })
	var parts []string
	var total float64
	for _, op := range ops {
		v := s[op]
		total += v.sum
		parts = append(parts, fmt.Sprintf("%s %.1f× %.0fµs", op, v.count/float64(n), v.sum/v.count*1e6))
	}
	return fmt.Sprintf("%.0fµs/req in the store: %s", total/float64(n)*1e6, strings.Join(parts, ", "))
}

// scrapeGCs reads the service's completed GC cycles (the Go collector's
// go_gc_duration_seconds_count) from /metrics; -1 when unavailable.
func scrapeGCs(metricsURL string) float64 {
	if metricsURL == "" {
		return -1
	}
	resp, err := getMetrics(metricsURL)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_gc_duration_seconds_count "); ok {
			if n, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// getMetrics fetches /metrics within 5 s (the client's timeout bounds the
// whole exchange, body included); the caller closes the body.
func getMetrics(metricsURL string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, metricsURL, nil)
	if err != nil {
		return nil, err
	}
	return (&http.Client{Timeout: 5 * time.Second}).Do(req)
}
