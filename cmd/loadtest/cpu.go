package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of /proc CPU times (100 on Linux).
const clockTicks = 100

// cpuSnap is CPU time used so far, in seconds: by the measured server
// process, by this load generator, and by the whole machine (busy, i.e.
// not idle or waiting for I/O), so that a run can say where time went.
type cpuSnap struct {
	server, gen, busy, total float64
}

// cpuUse is a run's CPU time, in seconds, split by who used it.
type cpuUse struct {
	server, gen, other float64
	busy               float64 // fraction of the machine's CPU time that was busy
}

func snapCPU(pid int) cpuSnap {
	busy, total := machineCPU()
	return cpuSnap{server: procCPU(strconv.Itoa(pid)), gen: procCPU("self"), busy: busy, total: total}
}

func (a cpuSnap) until(b cpuSnap) cpuUse {
	u := cpuUse{server: b.server - a.server, gen: b.gen - a.gen}
	u.other = max(0, (b.busy-a.busy)-u.server-u.gen)
	if t := b.total - a.total; t > 0 {
		u.busy = (b.busy - a.busy) / t
	}
	return u
}

// procCPU is utime+stime of /proc/<pid>/stat, in seconds; 0 when unreadable.
func procCPU(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat") //nolint:gosec // G304: pid is a child process' id, the path stays under /proc
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields count from after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64) // field 14 overall
	st, _ := strconv.ParseFloat(f[12], 64) // field 15
	return (ut + st) / clockTicks
}

// machineCPU is the machine's busy (not idle, not waiting for I/O) and
// total CPU time in seconds, over all CPUs.
func machineCPU() (busy, total float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0
	}
	var idle float64
	for i, v := range f[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		if i >= 8 { // guest time is already counted in user time
			break
		}
		total += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return (total - idle) / clockTicks, total / clockTicks
}

// perRequest renders CPU seconds over n requests as microseconds each.
func perRequest(sec float64, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", sec/float64(n)*1e6)
}
