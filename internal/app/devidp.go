package app

import "errors"

// DevProvider is the running development identity provider (internal/devidp,
// linked only into builds with the devidp tag).
type DevProvider interface {
	Issuer() string
	ClientID() string
	ClientSecret() string
	Close() error
}

// ErrNoDevIDP refuses ALGA_MOBILE_DEV_IDP in a binary built without the
// development identity provider.
var ErrNoDevIDP = errors.New("ALGA_MOBILE_DEV_IDP: this binary was built without the development identity provider " +
	"(only builds with the devidp tag carry it, such as `make run`); unset ALGA_MOBILE_DEV_IDP")
