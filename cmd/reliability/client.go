package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

// client talks to the service as the app (and a proxy) would. Every
// request carries X-Forwarded-For, which the service believes from
// loopback, so each simulated phone has an address of its own.
type client struct{ hc *http.Client }

func newClient(timeout time.Duration) *client { return newClientDial(timeout, 2*time.Second) }

// newClientDial is newClient with a dial timeout of its own. The 2 s of
// newClient tells a process that is gone from one that answers; a burst
// of hundreds of new connections on a starved machine needs the whole
// request budget: there the kernel completes every handshake at once (no
// listen-queue overflow, see burstProbe), and a dial that "times out" is
// the client's own goroutine not getting the CPU in time, not the server.
func newClientDial(timeout, dial time.Duration) *client {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second,
		DialContext: (&net.Dialer{Timeout: dial}).DialContext}
	return &client{hc: &http.Client{Timeout: timeout, Transport: tr}}
}

// result is one request's outcome.
type result struct {
	status     int // 0 when no response arrived
	body       []byte
	retryAfter string
	err        error
	dur        time.Duration
	at         time.Time
	// gotConn is when, after the start, the request had a connection (a
	// fresh one is dialled and accepted, an idle one is at once); 0 when
	// none came. What follows it is the server's time (and the network).
	gotConn time.Duration
}

// kind names the outcome for tallies: the status, or what went wrong.
func (r result) kind() string {
	switch {
	case r.err == nil:
		return fmt.Sprint(r.status)
	case errors.Is(r.err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(r.err, syscall.ECONNREFUSED):
		return "refused"
	case strings.Contains(r.err.Error(), "dial tcp") && strings.Contains(r.err.Error(), "timeout"):
		return "connect-timeout" // no connection within the dialer's 2 s: the server did not accept
	case errors.Is(r.err, os.ErrDeadlineExceeded), errors.Is(r.err, context.DeadlineExceeded), strings.Contains(r.err.Error(), "Timeout"):
		return "timeout"
	case errors.Is(r.err, io.EOF), errors.Is(r.err, io.ErrUnexpectedEOF):
		return "eof"
	}
	return "conn-error"
}

// code is the contract error code of a JSON error body, if any.
func (r result) code() string {
	var b struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(r.body, &b)
	return b.Error.Code
}

func (c *client) do(ctx context.Context, method, url, ip, bearer string, body any) result {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	start := time.Now()
	var gotConn atomic.Int64
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { gotConn.Store(int64(time.Since(start))) },
	})
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return result{err: err, at: start}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return result{err: err, dur: time.Since(start), at: start, gotConn: time.Duration(gotConn.Load())}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, body: b, retryAfter: resp.Header.Get("Retry-After"), err: err, dur: time.Since(start), at: start,
		gotConn: time.Duration(gotConn.Load())}
}

// pair is what a phone holds after an exchange or a refresh.
type pair struct{ access, refresh string }

func (c *client) exchange(ctx context.Context, base string, o harness.OTT) (pair, result) {
	r := c.do(ctx, http.MethodPost, base+"/api/v1/mobile/auth/exchange", o.IP, "",
		map[string]any{"ott": o.OTT, "state": o.State, "device": map[string]string{"platform": "ios", "deviceId": o.Device}})
	return pairOf(r), r
}

func (c *client) refresh(ctx context.Context, base, rt, ip string) (pair, result) {
	r := c.do(ctx, http.MethodPost, base+"/api/v1/mobile/auth/refresh", ip, "", map[string]any{"refreshToken": rt})
	return pairOf(r), r
}

func (c *client) verify(ctx context.Context, base, access string) result {
	return c.do(ctx, http.MethodGet, base+"/api/v1/mobile/auth/verify", "", access, nil)
}

func (c *client) get(ctx context.Context, base, path string) result {
	return c.do(ctx, http.MethodGet, base+path, "", "", nil)
}

func pairOf(r result) pair {
	if r.status != http.StatusOK {
		return pair{}
	}
	var b struct{ AccessToken, RefreshToken string }
	_ = json.Unmarshal(r.body, &b)
	return pair{access: b.AccessToken, refresh: b.RefreshToken}
}

// tally counts outcomes by kind, safely from many goroutines.
type tally struct {
	mu sync.Mutex
	n  map[string]int
}

func newTally() *tally { return &tally{n: map[string]int{}} }

func (t *tally) add(kind string) {
	t.mu.Lock()
	t.n[kind]++
	t.mu.Unlock()
}

func (t *tally) get(kind string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n[kind]
}

func (t *tally) total() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, v := range t.n {
		n += v
	}
	return n
}

// String is "N (200×a 401×b …)".
func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]string, 0, len(t.n))
	total := 0
	for k, v := range t.n {
		keys = append(keys, k)
		total += v
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, t.n[k])
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, " "))
}

// latencies collects request durations.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// quantile returns the q-quantile (0..1) and the count.
func (l *latencies) quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), l.d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(q * float64(len(s)-1))
	return s[i]
}

func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// maxRetries is how many times a phone presents a request again after a
// 503 with Retry-After before it gives up.
const maxRetries = 8

// retrying sends a request as a phone does: after a 503 that carries
// Retry-After it waits that long and sends it again (at most maxRetries
// times). It returns the last answer and every attempt's result.
func retrying(ctx context.Context, send func() result) (result, []result) {
	var all []result
	for {
		r := send()
		all = append(all, r)
		if r.status != http.StatusServiceUnavailable || r.retryAfter == "" || len(all) > maxRetries {
			return r, all
		}
		var secs int
		if _, err := fmt.Sscan(r.retryAfter, &secs); err != nil || secs < 0 {
			return r, all
		}
		select {
		case <-ctx.Done():
			return r, all
		case <-time.After(time.Duration(secs) * time.Second):
		}
	}
}

// unclear is 1 when a request got no clear answer: no response at all
// (a timeout, a reset, no connection), a 500, or a 503 without
// Retry-After. Everything else (200, 401, 429 and 503 with Retry-After)
// tells the phone what to do.
func unclear(r result) int {
	switch {
	case r.err != nil || r.status == 0, r.status >= 500 && r.status != http.StatusServiceUnavailable,
		r.status == http.StatusServiceUnavailable && r.retryAfter == "":
		return 1
	}
	return 0
}

// counter is a sum safe for many goroutines.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) add(d int) {
	c.mu.Lock()
	c.n += d
	c.mu.Unlock()
}
