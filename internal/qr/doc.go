// Package qr builds the "connect this server" QR code (SPEC §3.8): the
// payload alga://server?url=<percent-encoded origin> that the published
// mobile app's scanner understands, and its PNG, SVG and terminal
// renderings. ParsePayload mirrors the app's scanner so tests and the
// `check` command can prove a payload is one the app will accept.
//
// Encoding is done by github.com/skip2/go-qrcode at the Medium recovery
// level (15 % of the symbol may be damaged — enough for a photo of a
// screen, while keeping modules large for a typical origin). Every rendering
// is drawn here from the library's module bitmap, so modules are whole
// pixels (PNG), whole user units (SVG) or whole half-cells (terminal) and
// never get smeared by scaling.
package qr
