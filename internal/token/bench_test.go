package token

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func benchSetup(b *testing.B, cache *VerifiedCache) (*Verifier, string) {
	src, clk := &memKeys{}, newClock()
	k, err := NewKeyring(context.Background(), src, KeyringOptions{Now: clk.Now, Rand: seeded(1)})
	require.NoError(b, err)
	i, err := NewIssuer(k, testIssuer, "", 0, clk.Now, nil)
	require.NoError(b, err)
	tok, _, err := i.Issue(testClaims)
	require.NoError(b, err)
	v, err := NewVerifier(k, testIssuer, "", clk.Now, cache)
	require.NoError(b, err)
	return v, tok
}

func BenchmarkVerify(b *testing.B) {
	v, tok := benchSetup(b, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkVerifyCached(b *testing.B) {
	v, tok := benchSetup(b, NewVerifiedCache(0))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkIssue(b *testing.B) {
	src, clk := &memKeys{}, newClock()
	k, err := NewKeyring(context.Background(), src, KeyringOptions{Now: clk.Now, Rand: seeded(1)})
	require.NoError(b, err)
	i, err := NewIssuer(k, testIssuer, "", 0, clk.Now, nil)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := i.Issue(testClaims); err != nil {
			b.Fatal(err)
		}
	}
}
