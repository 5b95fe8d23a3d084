package harness

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProcStatFields: ProcCPU and ProcPPID read this test's own
// /proc/<pid>/stat; a process /proc does not show is false, not a zero.
func TestProcStatFields(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	ppid, ok := ProcPPID(os.Getpid())
	require.True(t, ok)
	assert.Equal(t, os.Getppid(), ppid)
	_, ok = ProcCPU(os.Getpid())
	assert.True(t, ok)

	_, ok = ProcCPU(-1)
	assert.False(t, ok)
	_, ok = ProcPPID(-1)
	assert.False(t, ok)
}
