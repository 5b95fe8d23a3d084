package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

// clockTicks is USER_HZ, the unit of /proc CPU times (100 on Linux).
const clockTicks = 100

// cpuSnap is CPU time used so far, in seconds: by the measured server
// process, by this load generator, and by the whole machine (busy, i.e.
// not idle or waiting for I/O), so that a run can say where time went.
type cpuSnap struct {
	server, gen, db, busy, total float64
}

// cpuUse is a run's CPU time, in seconds, split by who used it.
type cpuUse struct {
	server, gen, other float64
	// db is the part of other used by the PostgreSQL backends serving the
	// run's databases (not the server's shared processes such as the WAL
	// writer, nor backends that ended during the run).
	db   float64
	busy float64 // fraction of the machine's CPU time that was busy
}

// snapCPU reads the CPU used so far by the server process pid, this
// generator, the PostgreSQL backends connected to any of dbs, and the machine.
func snapCPU(pid int, dbs ...string) cpuSnap {
	busy, total := machineCPU()
	return cpuSnap{server: procCPU(pid), gen: procCPU(os.Getpid()), db: backendsCPU(dbs), busy: busy, total: total}
}

func (a cpuSnap) until(b cpuSnap) cpuUse {
	u := cpuUse{server: b.server - a.server, gen: b.gen - a.gen, db: max(0, b.db-a.db)}
	u.other = max(0, (b.busy-a.busy)-u.server-u.gen)
	if t := b.total - a.total; t > 0 {
		u.busy = (b.busy - a.busy) / t
	}
	return u
}

// procCPU is pid's CPU time so far in seconds; 0 when unreadable.
func procCPU(pid int) float64 {
	d, _ := harness.ProcCPU(pid)
	return d.Seconds()
}

// backendsCPU is the CPU time, in seconds, of the local PostgreSQL
// backends connected to any of dbs: a backend's process title is
// "postgres: <user> <database> <client> <state>". Backends that are gone
// are not counted, so a figure is exact only for long-lived pool
// connections, which is what the service keeps.
func backendsCPU(dbs []string) float64 {
	if len(dbs) == 0 {
		return 0
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var sum float64
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if db, ok := backendDB(string(b)); ok && slices.Contains(dbs, db) {
			sum += procCPU(pid)
		}
	}
	return sum
}

// backendDB is the database of a PostgreSQL backend, from its process
// title (/proc/<pid>/cmdline); false for any other process.
func backendDB(cmdline string) (string, bool) {
	if !strings.HasPrefix(cmdline, "postgres: ") {
		return "", false
	}
	f := strings.Fields(strings.ReplaceAll(cmdline, "\x00", " "))
	if len(f) < 4 {
		return "", false // the server's own processes: "postgres: walwriter"
	}
	return f[2], true
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
