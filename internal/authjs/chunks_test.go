package authjs

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJoinCookie(t *testing.T) {
	const n = "authjs.session-token"
	full := strings.Repeat("x", ChunkSize)
	tests := []struct {
		name    string
		cookies map[string]string
		want    string
		err     error
	}{
		{name: "whole cookie", cookies: map[string]string{n: "abc"}, want: "abc"},
		{name: "chunks joined by index, not map order", cookies: map[string]string{n + ".2": "c", n + ".0": "a", n + ".1": "b"}, want: "abc"},
		{name: "a single chunk .0", cookies: map[string]string{n + ".0": "a"}, want: "a"},
		{name: "empty values are absent", cookies: map[string]string{n: "abc", n + ".0": "", n + ".1": ""}, want: "abc"},
		{name: "non-canonical suffixes are not chunks", cookies: map[string]string{n: "abc", n + ".01": "x", n + ".+1": "x", n + ".": "x", n + ".1a": "x"}, want: "abc"},
		{name: "other cookies sharing the prefix", cookies: map[string]string{n: "abc", n + "-x": "x", n + "x.0": "x"}, want: "abc"},
		{name: "exactly the size limit", cookies: map[string]string{n: strings.Repeat("x", MaxCookieBytes)}, want: strings.Repeat("x", MaxCookieBytes)},
		{
			name:    "the most chunks at the limit",
			cookies: chunksOf(n, strings.Repeat("y", MaxCookieBytes)),
			want:    strings.Repeat("y", MaxCookieBytes),
		},

		{name: "nothing", cookies: nil, err: ErrNoCookie},
		{name: "only empty values", cookies: map[string]string{n: "", n + ".0": ""}, err: ErrNoCookie},
		{name: "a name that differs in case", cookies: map[string]string{strings.ToUpper(n): "abc"}, err: ErrNoCookie},
		{name: "whole and chunks", cookies: map[string]string{n: "abc", n + ".0": "a"}, err: ErrChunks},
		{name: "gap at .1", cookies: map[string]string{n + ".0": full, n + ".2": "c"}, err: ErrChunks},
		{name: "no .0", cookies: map[string]string{n + ".1": "b", n + ".2": "c"}, err: ErrChunks},
		{name: "index at MaxChunks", cookies: map[string]string{n + "." + strconv.Itoa(MaxChunks): "x"}, err: ErrTooLarge},
		{name: "huge index", cookies: map[string]string{n + ".99999999999999999999999": "x"}, err: ErrTooLarge},
		{name: "AlgaPSA's dev port suffix under the base name", cookies: map[string]string{n + ".3000": "x"}, err: ErrTooLarge},
		{name: "whole over the limit", cookies: map[string]string{n: strings.Repeat("x", MaxCookieBytes+1)}, err: ErrTooLarge},
		{name: "chunks over the limit", cookies: chunksOf(n, strings.Repeat("y", MaxCookieBytes+1)), err: ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := joinCookie(n, tc.cookies)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// chunksOf cuts v into ChunkSize pieces named name.0, name.1, …
func chunksOf(name, v string) map[string]string {
	out := map[string]string{}
	for i := 0; i*ChunkSize < len(v); i++ {
		out[name+"."+strconv.Itoa(i)] = v[i*ChunkSize : min((i+1)*ChunkSize, len(v))]
	}
	return out
}

func TestChunkConstants(t *testing.T) {
	assert.Equal(t, 3936, ChunkSize, "@auth/core 0.41.3: 4096 - 160")
	assert.Equal(t, 5, MaxChunks)
}

func TestChunkIndex(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "1": 1, "4": 4, "5": MaxChunks, "10": MaxChunks, "18446744073709551616": MaxChunks} {
		got, ok := chunkIndex(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "00", "01", "-1", "+1", "1 ", "a", "1.0", "٣"} {
		_, ok := chunkIndex(in)
		assert.False(t, ok, in)
	}
}
