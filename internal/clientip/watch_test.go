package clientip

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/nineminds/alga-mobile-auth/internal/testclock"
)

func TestWatchReportsForwardingFromUntrustedPeersOnceAMinute(t *testing.T) {
	clock := testclock.New(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	var got []Untrusted
	w := NewWatch(NewResolver(Loopback()), clock.Now, func(u Untrusted) { got = append(got, u) })
	req := func(remote, header, value string) {
		r := httptest.NewRequest("GET", "/api/v1/mobile/auth/capabilities", nil)
		r.RemoteAddr = remote
		if header != "" {
			r.Header.Set(header, value)
		}
		w.Observe(r)
	}

	req("172.18.0.1:40000", "", "")                            // no forwarding header: nothing to say
	req("127.0.0.1:40000", "X-Forwarded-For", "198.51.100.7")  // trusted proxy: fine
	req("172.18.0.1:40000", "X-Forwarded-For", "198.51.100.7") // reported
	req("172.18.0.1:40001", "X-Forwarded-For", "198.51.100.8") // within the minute: counted
	req("172.18.0.2:40002", "Forwarded", "for=198.51.100.9")   // counted
	assert.Equal(t, []Untrusted{{Peer: netip.MustParseAddr("172.18.0.1"), Header: "X-Forwarded-For"}}, got)

	clock.Advance(WarnEvery)
	req("[::ffff:172.18.0.2]:40003", "Forwarded", "for=198.51.100.9")
	assert.Equal(t, []Untrusted{
		{Peer: netip.MustParseAddr("172.18.0.1"), Header: "X-Forwarded-For"},
		{Peer: netip.MustParseAddr("172.18.0.2"), Header: "Forwarded", Suppressed: 2},
	}, got, "a minute later: the next one, with the count of those not reported")
}
