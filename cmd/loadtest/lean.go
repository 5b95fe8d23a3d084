package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// The clients the open-loop pass can use (-half-client).
const (
	halfLean = "lean"
	halfStd  = "net/http"
)

// leanTransport is a minimal HTTP/1.1 keep-alive client transport for the
// open-loop pass. net/http's Transport hands every request to a writer and
// a reader goroutine per connection and back, which costs the generator
// CPU and wake-ups that show up in the measured tail; here the calling
// goroutine writes the request, reads the whole response on the same
// connection and returns the connection to a pool. Every request goes to
// addr; bodies are read in full before RoundTrip returns.
type leanTransport struct {
	addr    string
	timeout time.Duration // per request, as a connection deadline
	// unusedFor is how long a dialled connection may wait for its first
	// request: a Go server closes a connection that sends nothing within
	// its ReadHeaderTimeout (5 s in the service), and the request written
	// to it then fails. Older unused connections are dialled again.
	unusedFor time.Duration
	idle      chan *leanConn
}

type leanConn struct {
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	dialed time.Time
	used   bool // has carried a request (the server's idle timeout applies)
}

// leanUnusedFor is leanTransport.unusedFor: well under any header timeout.
const leanUnusedFor = time.Second

// newLeanClient is an http.Client over a leanTransport to addr (host:port)
// that keeps at most conns idle connections.
func newLeanClient(addr string, conns int) (*http.Client, *leanTransport) {
	t := &leanTransport{addr: addr, timeout: 30 * time.Second, unusedFor: leanUnusedFor, idle: make(chan *leanConn, conns)}
	return &http.Client{Transport: t}, t
}

// prewarm dials n connections into the pool so that a run does not start
// with connection set-up.
func (t *leanTransport) prewarm(ctx context.Context, n int) error {
	for range n {
		lc, err := t.dial(ctx)
		if err != nil {
			return err
		}
		t.put(lc)
	}
	return nil
}

// fill tops the pool up to n idle connections, dialling those missing; call
// it right before a run (after any wait), so that no connection sits
// unused long enough for the server to close it.
func (t *leanTransport) fill(ctx context.Context, n int) error {
	return t.prewarm(ctx, n-len(t.idle))
}

func (t *leanTransport) dial(ctx context.Context) (*leanConn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	return &leanConn{c: c, br: bufio.NewReaderSize(c, 16<<10), bw: bufio.NewWriterSize(c, 4<<10), dialed: time.Now()}, nil
}

func (t *leanTransport) put(lc *leanConn) {
	select {
	case t.idle <- lc:
	default:
		_ = lc.c.Close()
	}
}

// closeIdle closes the pooled connections.
func (t *leanTransport) closeIdle() {
	for {
		select {
		case lc := <-t.idle:
			_ = lc.c.Close()
		default:
			return
		}
	}
}

// RoundTrip sends req on a pooled connection and returns the response
// with its body already read.
func (t *leanTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.addr {
		return nil, fmt.Errorf("lean transport: host %q, want %q", req.URL.Host, t.addr)
	}
	var lc *leanConn
	select {
	case lc = <-t.idle:
		if !lc.used && time.Since(lc.dialed) > t.unusedFor {
			// The server may have closed it already (see unusedFor).
			_ = lc.c.Close()
			lc = nil
		}
	default:
	}
	if lc == nil {
		var err error
		if lc, err = t.dial(req.Context()); err != nil {
			return nil, err
		}
	}
	lc.used = true
	resp, err := lc.roundTrip(req, t.timeout)
	if err != nil {
		_ = lc.c.Close()
		return nil, err
	}
	if resp.Close {
		_ = lc.c.Close()
	} else {
		t.put(lc)
	}
	return resp, nil
}

func (lc *leanConn) roundTrip(req *http.Request, timeout time.Duration) (*http.Response, error) {
	if err := lc.c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	if err := req.Write(lc.bw); err != nil {
		return nil, err
	}
	if err := lc.bw.Flush(); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(lc.br, req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if lc.br.Buffered() > 0 {
		return nil, errors.New("lean transport: bytes after the response")
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
