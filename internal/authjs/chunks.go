package authjs

import (
	"fmt"
	"strings"
)

// Chunking, as @auth/core 0.41.3 does it (lib/utils/cookie.js, SessionStore):
// a value longer than ChunkSize characters is written as cookies `<name>.0`,
// `<name>.1`, … of ChunkSize characters each (the last one shorter), and the
// whole-name cookie is deleted in the same response; a value that fits is
// written under the name itself and any old chunks are deleted. Its reader
// skips empty values, sorts chunks by their numeric suffix and joins them.
const (
	// ChunkSize is Auth.js' chunk length: 4096 bytes a cookie less its
	// estimate of 160 bytes for the name and attributes.
	ChunkSize = 4096 - 160
	// MaxCookieBytes caps the joined cookie value. AlgaPSA's web app runs on
	// Node.js, whose default limit for all request headers together is
	// 16 KiB, so a session past this size could never have reached it.
	MaxCookieBytes = 16 << 10
	// MaxChunks is the most chunks a value of MaxCookieBytes needs.
	MaxChunks = (MaxCookieBytes + ChunkSize - 1) / ChunkSize
)

// joinCookie returns the session cookie value named name from cookies,
// joining its chunks. It reads sizes only, so an oversized cookie is refused
// before any decoding or crypto. Where Auth.js' reader would join the whole
// cookie and chunks (or chunks with a gap) into a value that then fails to
// decrypt, this refuses at once with ErrChunks.
func joinCookie(name string, cookies map[string]string) (string, error) {
	whole := cookies[name] // an empty value counts as absent, as in Auth.js
	var chunks [MaxChunks]string
	n, total := 0, 0
	prefix := name + "."
	for k, v := range cookies {
		if v == "" || !strings.HasPrefix(k, prefix) {
			continue
		}
		idx, ok := chunkIndex(k[len(prefix):])
		if !ok {
			continue // another cookie that merely shares the prefix
		}
		if idx >= MaxChunks {
			return "", fmt.Errorf("%w: chunk index beyond %d", ErrTooLarge, MaxChunks-1)
		}
		chunks[idx] = v //nolint:gosec // G602: idx < MaxChunks, checked just above
		n++
		total += len(v)
	}
	switch {
	case whole == "" && n == 0:
		return "", ErrNoCookie
	case whole != "" && n > 0:
		return "", fmt.Errorf("%w: whole cookie and chunks both present", ErrChunks)
	case whole != "":
		if len(whole) > MaxCookieBytes {
			return "", fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(whole), MaxCookieBytes)
		}
		return whole, nil
	}
	if total > MaxCookieBytes {
		return "", fmt.Errorf("%w: %d bytes in %d chunks, limit %d", ErrTooLarge, total, n, MaxCookieBytes)
	}
	// Indexes are distinct and below MaxChunks, so n chunks without a gap
	// are exactly .0 … .n-1.
	var b strings.Builder
	b.Grow(total)
	for i := range n {
		if chunks[i] == "" {
			return "", fmt.Errorf("%w: chunk .%d missing of %d present", ErrChunks, i, n)
		}
		b.WriteString(chunks[i])
	}
	return b.String(), nil
}

// chunkIndex parses a chunk suffix: a decimal number without sign or leading
// zeros. Large numbers come back as MaxChunks (too large either way).
func chunkIndex(s string) (int, bool) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < MaxChunks {
			n = n*10 + int(c-'0')
		}
	}
	return min(n, MaxChunks), true
}
