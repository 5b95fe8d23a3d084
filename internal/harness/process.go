// Package harness runs the service binary as a child process and seeds its
// store, for the load test (cmd/loadtest) and the reliability program
// (cmd/reliability): build it, give it an environment of its own, start,
// watch and stop it, and issue the users and tokens a load needs.
package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ModuleRoot finds the directory holding go.mod, from the working directory up.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found: run from inside the repository")
		}
		dir = parent
	}
}

// BuildService compiles the service the way `make build` does.
func BuildService(ctx context.Context, root, tmp string) (string, error) {
	bin := filepath.Join(tmp, "alga-mobile-auth")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/alga-mobile-auth") //nolint:gosec // G204: bin is a path in the caller's temporary directory
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// FreeAddr reserves a loopback port; it is closed again before the child
// binds it, which is fine on a machine we own for the duration.
func FreeAddr() (string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0") // only reserves a port
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// ServiceEnv is the whole environment of the service and its admin
// commands. It is built from scratch so that nothing from the caller's
// environment (a Redis URL, a development IdP, a license) changes what is
// measured.
func ServiceEnv(addr, dbURL, tmp string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + tmp,
		"NEXTAUTH_URL=http://" + addr,
		"ALGA_MOBILE_LISTEN_ADDR=" + addr,
		"EDITION=ee",
		"ALGA_TRIAL_STARTED_AT=" + time.Now().UTC().Add(-time.Hour).Format(time.RFC3339),
		"ALGA_MOBILE_DATABASE_URL=" + dbURL,
		"ALGA_MOBILE_LOG_LEVEL=warn",
		// The load generator plays the proxy: each simulated phone sends
		// its own X-Forwarded-For, so per-IP limits see distinct clients.
		"ALGA_MOBILE_TRUSTED_PROXIES=127.0.0.1/32",
		"ALGA_MOBILE_SHUTDOWN_DRAIN_SEC=1",
		"SECRET_FS_BASE_PATH=" + tmp,
	}
}

// RunCLI runs one admin command of the service binary.
func RunCLI(ctx context.Context, bin string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...) //nolint:gosec // G204: the service binary this run built, running one of its admin commands
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Process is a child (the service or the bare server) whose memory is
// sampled while it runs.
type Process struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	waitErr error

	logMark int64 // log offset after start-up; LogProblems reads from here
	endOnce sync.Once

	mu      sync.Mutex
	maxRSS  int64 // highest sampled VmRSS, bytes
	samples int
	stopSam chan struct{}
}

// StartProcess starts bin with args and env, logging to logPath, and
// samples its VmRSS every 100 ms.
func StartProcess(bin string, args, env []string, logPath string) (*Process, error) {
	logf, err := os.Create(logPath) //nolint:gosec // G304: a log file in the run's own temporary directory
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...) //nolint:gosec,noctx // G204: the service binary this run built, with its own arguments; it outlives this call and Stop ends it
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, err
	}
	p := &Process{cmd: cmd, logPath: logPath, done: make(chan struct{}), stopSam: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = logf.Close()
		close(p.done)
	}()
	go p.sample()
	return p, nil
}

func (p *Process) sample() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stopSam:
			return
		case <-p.done:
			return
		case <-t.C:
			if rss, err := p.Status("VmRSS"); err == nil {
				p.mu.Lock()
				p.maxRSS = max(p.maxRSS, rss)
				p.samples++
				p.mu.Unlock()
			}
		}
	}
}

func (p *Process) Status(field string) (int64, error) { return ProcStatus(p.cmd.Process.Pid, field) }

// ProcStatus reads one memory field (in bytes) from /proc/<pid>/status.
func ProcStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", field, err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("%s not in /proc status", field)
}

// RSSOf is pid's current VmRSS, for progress lines.
func RSSOf(pid int) string {
	rss, err := ProcStatus(pid, "VmRSS")
	if err != nil {
		return "?"
	}
	return MiB(rss)
}

// MiB formats a byte count in mebibytes.
func MiB(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the child has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Signal sends sig to the child.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL (no chance to clean up, as in a crash) and waits.
func (p *Process) Kill() {
	p.endOnce.Do(func() { close(p.stopSam) })
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Memory reports the kernel's peak RSS (VmHWM) and the highest sample.
func (p *Process) Memory() (hwm, sampled int64, samples int) {
	hwm, _ = p.Status("VmHWM")
	p.mu.Lock()
	defer p.mu.Unlock()
	return hwm, p.maxRSS, p.samples
}

// WaitHTTP polls url until it answers 200, the process exits, or timeout.
func (p *Process) WaitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("exited early (%v):\n%s", p.waitErr, p.LogTail())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := c.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s:\n%s", timeout, p.LogTail())
}

// Stop sends SIGTERM and waits; SIGKILL after 15 s.
func (p *Process) Stop() {
	p.endOnce.Do(func() { close(p.stopSam) })
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// MarkLog remembers where start-up logging ended (its warnings, such as
// "no SSO provider is configured", are expected here).
func (p *Process) MarkLog() {
	if fi, err := os.Stat(p.logPath); err == nil {
		p.logMark = fi.Size()
	}
}

// LogProblems counts the child's log lines at warn level or above since
// MarkLog (the service logs JSON) and returns the first of them.
func (p *Process) LogProblems() (n int, first string) {
	b, _ := os.ReadFile(p.logPath)
	if p.logMark <= int64(len(b)) {
		b = b[p.logMark:]
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
			if n++; n == 1 {
				first = line
			}
		}
	}
	return n, first
}

// LogTail is the end of the child's log, for error messages.
func (p *Process) LogTail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// clockTick is USER_HZ, the unit of /proc's CPU times (100 on Linux).
const clockTick = 10 * time.Millisecond

// ProcCPU is pid's user and system CPU time from /proc/<pid>/stat, at the
// clock tick's resolution; false when /proc does not show the process.
func ProcCPU(pid int) (time.Duration, bool) {
	f, ok := procStat(pid)
	if !ok || len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64) // field 14 overall
	s, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+s) * clockTick, true
}

// ProcPPID is pid's parent from /proc/<pid>/stat; false when /proc does
// not show the process.
func ProcPPID(pid int) (int, bool) {
	f, ok := procStat(pid)
	if !ok || len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1]) // field 4 overall
	return ppid, err == nil
}

// procStat is the fields of /proc/<pid>/stat after the command name, which
// may hold spaces, in parentheses (field 3 overall is the first).
func procStat(pid int) ([]string, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, false
	}
	return strings.Fields(string(b[i+1:])), true
}
