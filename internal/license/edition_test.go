package license

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseEdition(t *testing.T) {
	tests := []struct {
		name, edition, next string
		want                Edition
	}{
		{"nothing is community", "", "", Community},
		{"ee is enterprise", "ee", "", Enterprise},
		{"enterprise is enterprise", "enterprise", "", Enterprise},
		{"reads case-insensitively", "EE", "", Enterprise},
		{"trims", "  Enterprise\n", "", Enterprise},
		{"reads NEXT_PUBLIC_EDITION", "", "ee", Enterprise},
		{"either variable suffices", "ce", "enterprise", Enterprise},
		{"ce is community", "ce", "", Community},
		{"community is community", "community", "community", Community},
		{"a near miss is community", "e e", "enterprises", Community},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ParseEdition(tc.edition, tc.next))
		})
	}
}
