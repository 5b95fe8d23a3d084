//go:build devidp

package app

import "github.com/nineminds/alga-mobile-auth/internal/devidp"

// DevIDPBuiltIn reports whether this binary carries the development
// identity provider: only builds with the devidp tag do (`make run`, the
// tests), never `make build` or the image.
const DevIDPBuiltIn = true

// startDevIDP starts the development identity provider on addr.
func startDevIDP(addr string, redirectURIs []string) (DevProvider, error) {
	return devidp.Start(devidp.Options{Addr: addr, RedirectURIs: redirectURIs})
}
