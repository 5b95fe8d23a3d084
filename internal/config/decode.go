package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The decoders below never fail inside envconfig (which stops at the first
// error and echoes raw values); they record the problem instead, so that
// Load can report every bad variable at once, in its own words.

// Seconds is a positive whole number of seconds. Empty means "use the default".
type Seconds struct {
	D   time.Duration
	set bool
	err error
}

// Decode implements envconfig.Decoder.
func (s *Seconds) Decode(v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		s.err = fmt.Errorf("is too large (at most ten years, %d seconds)", 10*365*24*3600)
	case err != nil:
		s.err = fmt.Errorf("must be a whole number of seconds, got %q", clip(v))
	case n <= 0:
		s.err = fmt.Errorf("must be positive, got %d", n)
	case n > 10*365*24*3600:
		s.err = fmt.Errorf("must be at most ten years, got %d", n)
	default:
		s.D, s.set = time.Duration(n)*time.Second, true
	}
	return nil
}

// Bool is true/false/1/0/yes/no (case-insensitive). Empty means false.
type Bool struct {
	V   bool
	err error
}

// Decode implements envconfig.Decoder.
func (b *Bool) Decode(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "false", "no", "off":
		b.V = false
	case "1", "true", "yes", "on":
		b.V = true
	default:
		b.err = fmt.Errorf("must be true or false, got %q", clip(v))
	}
	return nil
}

// Text is a trimmed string.
type Text string

// Decode implements envconfig.Decoder.
func (t *Text) Decode(v string) error {
	*t = Text(strings.TrimSpace(v))
	return nil
}

// clip keeps error messages short; used only for non-secret values.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
