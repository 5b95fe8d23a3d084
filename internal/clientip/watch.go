package clientip

import (
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// WarnEvery is how often, at most, Watch reports forwarding headers from
// untrusted peers.
const WarnEvery = time.Minute

// Untrusted is one report of Watch: a peer that is not a trusted proxy sent
// forwarding headers, which were therefore ignored.
type Untrusted struct {
	Peer   netip.Addr
	Header string // the first forwarding header found
	// Suppressed counts such requests since the previous report that were
	// not reported (rate limit).
	Suppressed int
}

// Watch notices requests that carry X-Forwarded-For or Forwarded from a
// peer that is not a trusted proxy. Those headers are ignored (rightly), but
// when the peer is in fact the operator's proxy with its address missing from
// ALGA_MOBILE_TRUSTED_PROXIES, every client behind it shares the proxy's
// address, hence one rate-limit bucket: the operator must hear about it.
// Reports are rate-limited to one per WarnEvery. Safe for concurrent use.
type Watch struct {
	resolver *Resolver
	now      func() time.Time
	report   func(Untrusted)

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// NewWatch returns a Watch for r's trusted proxies that calls report (at
// most once per WarnEvery); now is the clock (nil: time.Now).
func NewWatch(r *Resolver, now func() time.Time, report func(Untrusted)) *Watch {
	if now == nil {
		now = time.Now
	}
	return &Watch{resolver: r, now: now, report: report}
}

// Observe looks at one request. The common case (no forwarding header, or
// a trusted peer) takes no lock.
func (w *Watch) Observe(req *http.Request) {
	header := ""
	for _, h := range []string{"X-Forwarded-For", "Forwarded"} {
		if len(req.Header.Values(h)) > 0 {
			header = h
			break
		}
	}
	if header == "" {
		return
	}
	p := peer(req)
	if !p.IsValid() || w.resolver.isTrusted(p) {
		return
	}
	now := w.now()
	w.mu.Lock()
	if !w.last.IsZero() && now.Sub(w.last) < WarnEvery {
		w.suppressed++
		w.mu.Unlock()
		return
	}
	u := Untrusted{Peer: p, Header: header, Suppressed: w.suppressed}
	w.last, w.suppressed = now, 0
	w.mu.Unlock()
	w.report(u)
}
