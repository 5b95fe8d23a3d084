//go:build !devidp

package app

// DevIDPBuiltIn reports whether this binary carries the development
// identity provider: only builds with the devidp tag do (`make run`, the
// tests), never `make build` or the image.
const DevIDPBuiltIn = false

func startDevIDP(string, []string) (DevProvider, error) { return nil, ErrNoDevIDP }
