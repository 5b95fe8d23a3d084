package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
)

// The endpoints this program drives, in the order it drives them.
const (
	epCapabilities = "capabilities"
	epVerify       = "verify"
	epExchange     = "exchange"
	epRefresh      = "refresh"
	epBare         = "bare"
)

var allEndpoints = []string{epCapabilities, epVerify, epExchange, epRefresh}

const (
	capabilitiesPath = "/api/v1/mobile/auth/capabilities"
	verifyPath       = "/api/v1/mobile/auth/verify"
	exchangePath     = "/api/v1/mobile/auth/exchange"
	refreshPath      = "/api/v1/mobile/auth/refresh"
)

// drain reads and closes a response so its connection is reused.
func drain(resp *http.Response) int {
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// getCall is a plain GET of url.
func getCall(url string) call {
	return func(ctx context.Context, c *http.Client, _ int) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		return drain(resp), nil
	}
}

// verifyCall presents the access tokens in turn, as forward-auth would,
// in header: Authorization (as a bearer token) or x-api-key.
func verifyCall(base string, tokens []string, header string) call {
	var n atomic.Uint64
	url := base + verifyPath
	return func(ctx context.Context, c *http.Client, _ int) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		tok := tokens[n.Add(1)%uint64(len(tokens))]
		if header == "Authorization" {
			tok = "Bearer " + tok
		}
		req.Header.Set(header, tok)
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		return drain(resp), nil
	}
}

// ottItem is one pre-issued one-time token and the phone that holds it.
type ottItem struct {
	ott, state, ip, device string
}

// ottSupply hands out each OTT once.
type ottSupply struct {
	items []ottItem
	next  atomic.Int64
}

func (s *ottSupply) take() (ottItem, bool) {
	i := s.next.Add(1) - 1
	if i >= int64(len(s.items)) {
		return ottItem{}, false
	}
	return s.items[i], true
}

func (s *ottSupply) left() int { return max(0, len(s.items)-int(s.next.Load())) }

func exchangeBody(it ottItem) []byte {
	return fmt.Appendf(nil, `{"ott":%q,"state":%q,"device":{"platform":"ios","appVersion":"1.4.0","buildVersion":"140","deviceId":%q}}`,
		it.ott, it.state, it.device)
}

// exchangeCall consumes a fresh OTT per request.
func exchangeCall(base string, s *ottSupply) call {
	url := base + exchangePath
	return func(ctx context.Context, c *http.Client, _ int) (int, error) {
		it, ok := s.take()
		if !ok {
			return 0, errExhausted
		}
		resp, err := postJSON(ctx, c, url, it.ip, exchangeBody(it))
		if err != nil {
			return 0, err
		}
		return drain(resp), nil
	}
}

func postJSON(ctx context.Context, c *http.Client, url, ip string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	return c.Do(req)
}

// chain is one phone's refresh-token family: it always presents the
// latest refresh token it was given.
type chain struct {
	token, ip string
	uses      int
}

// maxChainUses keeps each chain (one user, one address) within SPEC
// §3.5's 30 refreshes per minute per IP and per tenant:user, counted over
// the whole benchmark rather than per minute, so no window can overflow.
const maxChainUses = 30

// chainPool is a FIFO of idle chains: a chain is used by one request at a
// time and goes to the back of the queue afterwards, so consecutive uses of
// one chain are far apart.
type chainPool struct{ ch chan *chain }

func newChainPool(chains []*chain) *chainPool {
	p := &chainPool{ch: make(chan *chain, len(chains))}
	for _, c := range chains {
		p.ch <- c
	}
	return p
}

func (p *chainPool) left() int { return len(p.ch) }

// refreshCall rotates one chain per request and keeps its successor. A
// chain that gets anything but 200 is dropped: its latest token is unknown.
func refreshCall(base string, p *chainPool) call {
	url := base + refreshPath
	return func(ctx context.Context, c *http.Client, _ int) (int, error) {
		var ch *chain
		select {
		case ch = <-p.ch:
		default:
			return 0, errExhausted
		}
		body := fmt.Appendf(nil, `{"refreshToken":%q,"device":{"platform":"android","appVersion":"1.4.0"}}`, ch.token)
		resp, err := postJSON(ctx, c, url, ch.ip, body)
		if err != nil {
			return 0, err // chain state unknown: dropped
		}
		if resp.StatusCode != http.StatusOK {
			return drain(resp), nil
		}
		var out struct {
			RefreshToken string `json:"refreshToken"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		status := drain(resp)
		if err != nil || out.RefreshToken == "" {
			return 0, fmt.Errorf("refresh: unreadable 200 body: %v", err)
		}
		ch.token = out.RefreshToken
		if ch.uses++; ch.uses < maxChainUses {
			p.ch <- ch
		}
		return status, nil
	}
}

// exchangeOnce trades one OTT for tokens (to get access tokens for verify).
func exchangeOnce(ctx context.Context, c *http.Client, base string, it ottItem) (access string, err error) {
	return exchangeField(ctx, c, base, it, "accessToken")
}

// exchangeField trades one OTT and returns one string field of the answer.
func exchangeField(ctx context.Context, c *http.Client, base string, it ottItem, field string) (string, error) {
	resp, err := postJSON(ctx, c, base+exchangePath, it.ip, exchangeBody(it))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("exchange: status %d: %s", resp.StatusCode, b)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return "", fmt.Errorf("exchange: unreadable body %s", strconv.Quote(string(b)))
	}
	v, _ := out[field].(string)
	if v == "" {
		return "", fmt.Errorf("exchange: no %s in %s", field, strconv.Quote(string(b)))
	}
	return v, nil
}
