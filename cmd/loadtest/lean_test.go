package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leanServer answers /json with a fixed body, /echo with the request body
// and its headers of interest, /chunked with a chunked body and /close
// with Connection: close; it counts the connections it accepted.
func leanServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true}`))
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Auth", r.Header.Get("Authorization"))
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(b)
		case "/chunked":
			w.(http.Flusher).Flush() // no Content-Length: the body is chunked
			_, _ = w.Write([]byte("part one, "))
			w.(http.Flusher).Flush()
			_, _ = w.Write([]byte("part two"))
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte("bye"))
		default:
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func TestLeanClientReadsEveryKindOfResponse(t *testing.T) {
	srv, _ := leanServer(t)
	c, lt := newLeanClient(strings.TrimPrefix(srv.URL, "http://"), 2)
	defer lt.closeIdle()
	tests := []struct {
		name, method, path, auth, body string
		wantStatus                     int
		wantBody, wantAuth             string
	}{
		{"get with a length", http.MethodGet, "/json", "", "", http.StatusOK, `{"ok":true}`, ""},
		{"post body and header arrive", http.MethodPost, "/echo", "Bearer x", `{"a":1}`, http.StatusCreated, `{"a":1}`, "Bearer x"},
		{"chunked body", http.MethodGet, "/chunked", "", "", http.StatusOK, "part one, part two", ""},
		{"connection close", http.MethodGet, "/close", "", "", http.StatusOK, "bye", ""},
		{"non-2xx status", http.MethodGet, "/limited", "", "", http.StatusTooManyRequests, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, bytes.NewReader([]byte(tt.body)))
			require.NoError(t, err)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := c.Do(req)
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.Equal(t, tt.wantBody, string(b))
			assert.Equal(t, tt.wantAuth, resp.Header.Get("X-Auth"))
		})
	}
}

func TestLeanClientKeepsItsConnections(t *testing.T) {
	srv, conns := leanServer(t)
	c, lt := newLeanClient(strings.TrimPrefix(srv.URL, "http://"), 3)
	defer lt.closeIdle()
	require.NoError(t, lt.prewarm(context.Background(), 3))
	for range 50 {
		status, err := getCall(srv.URL+"/json")(context.Background(), c, 0)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
	}
	assert.Eventually(t, func() bool { return conns.Load() == 3 }, time.Second, 10*time.Millisecond,
		"the pre-dialled connections serve every request")

	status, err := getCall(srv.URL+"/close")(context.Background(), c, 0)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, lt.idle, 2, "a connection the server closes leaves the pool")
}

func TestLeanClientRefusesAnotherHost(t *testing.T) {
	c, _ := newLeanClient("127.0.0.1:1", 1)
	_, err := getCall("http://127.0.0.2:1/")(context.Background(), c, 0)
	assert.ErrorContains(t, err, "want")
}

func TestOpenLoopWithTheLeanClientKeepsTheRate(t *testing.T) {
	srv, _ := leanServer(t)
	c, lt := newLeanClient(strings.TrimPrefix(srv.URL, "http://"), 4)
	defer lt.closeIdle()
	r := openLoop(context.Background(), c, 4, 500, 0, 200*time.Millisecond, getCall(srv.URL+"/json"))
	assert.InDelta(t, 100, r.n, 2, "paced at 500/s for 0.2 s")
	assert.Zero(t, r.non2xx+r.errs)
	assert.Positive(t, r.parts.req99)
	assert.GreaterOrEqual(t, r.p99, r.parts.req99, "latency from release includes the request itself")
}

func TestBusyNotesFlagOnlyRunsSharedWithOtherWork(t *testing.T) {
	share := func(other float64) result {
		return result{elapsed: time.Second, cpu: cpuUse{other: other * float64(runtime.NumCPU())}}
	}
	rep := &report{rows: []row{
		{endpoint: epBare, engine: "-", half: []result{share(0), share(0.01), share(0.02)}},
		{endpoint: epVerify, engine: "sqlite", half: []result{share(0.30), share(0.01), share(0.20)}},
		{endpoint: epCapabilities, engine: "sqlite"}, // no open-loop runs
	}}
	notes := rep.busyNotes()
	require.Len(t, notes, 1)
	assert.Contains(t, notes[0], "20% of the machine")
	assert.Contains(t, notes[0], "verify/sqlite")
}

// A connection dialled before a wait longer than the server's header
// timeout is closed by the server; the first half-peak run used to lose one
// request per connection that way (the quiet wait outlasted the service's
// 5 s ReadHeaderTimeout).
func TestLeanClientRedialsConnectionsLeftUnusedTooLong(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	srv.Config.ReadHeaderTimeout = 100 * time.Millisecond
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c, lt := newLeanClient(strings.TrimPrefix(srv.URL, "http://"), 4)
	defer lt.closeIdle()
	lt.unusedFor = 50 * time.Millisecond

	require.NoError(t, lt.fill(context.Background(), 4))
	time.Sleep(300 * time.Millisecond) // past the server's header timeout
	r := openLoop(context.Background(), c, 4, 200, 0, 100*time.Millisecond, getCall(srv.URL+"/"))
	assert.Zero(t, r.errs, "stale pre-dialled connections are replaced, not used")
	assert.Positive(t, r.n)

	// Used connections stay: the server's idle timeout applies to them.
	n := conns.Load()
	require.NoError(t, lt.fill(context.Background(), 4))
	time.Sleep(100 * time.Millisecond)
	r = openLoop(context.Background(), c, 4, 200, 0, 100*time.Millisecond, getCall(srv.URL+"/"))
	assert.Zero(t, r.errs)
	assert.Equal(t, n, conns.Load(), "connections that carried a request are kept")
}

// The warm-up's requests are sent at the run's rate but kept out of its
// figures: a service slow only while it comes to the rate from idle shows
// in warmP99, not in p99.
func TestOpenLoopKeepsTheWarmUpApart(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if served.Add(1) <= 10 {
			time.Sleep(60 * time.Millisecond) // cold: the first requests are slow
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	c, lt := newLeanClient(strings.TrimPrefix(srv.URL, "http://"), 16)
	defer lt.closeIdle()
	r := openLoop(context.Background(), c, 16, 200, 250*time.Millisecond, 250*time.Millisecond, getCall(srv.URL+"/"))
	assert.InDelta(t, 50, r.warmN, 2, "the warm-up's 0.25 s at 200/s")
	assert.InDelta(t, 50, r.n, 2, "the measured 0.25 s at 200/s")
	assert.Equal(t, int64(r.warmN+r.n), served.Load())
	assert.GreaterOrEqual(t, r.warmP99, 60*time.Millisecond, "the slow first requests are in the warm-up")
	assert.Less(t, r.p99, 60*time.Millisecond, "and not in the measured span")
}
