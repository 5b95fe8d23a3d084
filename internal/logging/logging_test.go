package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSaneCorrelationID(t *testing.T) {
	tests := []struct {
		id   string
		sane bool
	}{
		{"abc-123", true}, {"A.b_c:d-9", true}, {strings.Repeat("x", 128), true},
		{"", false}, {strings.Repeat("x", 129), false}, {"a b", false}, {"a\r\nSet-Cookie: x", false},
		{"<script>", false}, {"é", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.sane, SaneCorrelationID(tt.id), "%q", tt.id)
	}
}

func TestNewCorrelationIDIsRandomHex(t *testing.T) {
	a, b := NewCorrelationID(), NewCorrelationID()
	assert.Len(t, a, 32)
	assert.NotEqual(t, a, b)
	assert.True(t, SaneCorrelationID(a))
}

func TestLoggerAddsCorrelationIDFromContext(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "json", "info").With("component", "test")
	log.InfoContext(WithCorrelationID(context.Background(), "corr-1"), "hello")
	log.InfoContext(context.Background(), "no id")
	log.DebugContext(context.Background(), "below level")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2)
	var first map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	assert.Equal(t, "corr-1", first["correlation_id"])
	assert.Equal(t, "test", first["component"])
	assert.NotContains(t, lines[1], "correlation_id")
}

func TestTextFormat(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, "text", "debug").DebugContext(WithCorrelationID(context.Background(), "c2"), "m")
	assert.Contains(t, buf.String(), "correlation_id=c2")
}
