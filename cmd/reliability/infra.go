package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // CREATE DATABASE and row counts
	_ "modernc.org/sqlite"             // PRAGMA integrity_check

	"github.com/nineminds/alga-mobile-auth/internal/harness"
)

// postgres is a throwaway cluster of this program's own.
type postgres struct {
	bin, dir string
	port     int
	asUser   bool // run pg_ctl as the postgres user (we are root)
}

// startPostgres runs initdb in dir and starts the cluster on a free port.
func startPostgres(ctx context.Context, dir string) (*postgres, error) {
	initdbs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(initdbs) == 0 {
		return nil, errors.New("PostgreSQL not installed (/usr/lib/postgresql/*/bin/initdb): apt-get install postgresql")
	}
	sort.Strings(initdbs)
	addr, err := harness.FreeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	p := &postgres{bin: filepath.Dir(initdbs[len(initdbs)-1]), dir: dir, asUser: os.Geteuid() == 0}
	if _, err := fmt.Sscan(port, &p.port); err != nil {
		return nil, fmt.Errorf("port of %s: %w", addr, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if p.asUser {
		if out, err := exec.Command("chown", "-R", "postgres", filepath.Dir(dir)).CombinedOutput(); err != nil { //nolint:gosec,noctx // G204: chown of the run's own temporary directory; it returns at once
			return nil, fmt.Errorf("chown: %w: %s", err, out)
		}
	}
	if err := p.ctl(ctx, "initdb", "-D", dir, "-A", "trust", "-U", "postgres"); err != nil {
		return nil, err
	}
	return p, p.start(ctx)
}

// ctl runs one PostgreSQL program (as the postgres user when root).
func (p *postgres) ctl(ctx context.Context, prog string, args ...string) error {
	cmdline := append([]string{filepath.Join(p.bin, prog)}, args...)
	var cmd *exec.Cmd
	if p.asUser {
		quoted := make([]string, len(cmdline))
		for i, a := range cmdline {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		cmd = exec.CommandContext(ctx, "su", "postgres", "-c", strings.Join(quoted, " ")) //nolint:gosec // G204: PostgreSQL's own tools on the run's directory, every argument single-quoted above
	} else {
		cmd = exec.CommandContext(ctx, cmdline[0], cmdline[1:]...) //nolint:gosec // G204: PostgreSQL's own tools (initdb, pg_ctl) on the run's directory
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", prog, err, out)
	}
	return nil
}

func (p *postgres) start(ctx context.Context) error {
	// pg_stat_statements: the scale scenario compares statements on the
	// empty and the seeded database (calls, time, buffers read). The log
	// (kept with -keep) names what a slow statement waited on: statements
	// over 50 ms, lock waits, checkpoints and autovacuum runs, with
	// millisecond timestamps and the backend's pid. A lock wait is logged
	// once it reaches deadlock_timeout: 50 ms, the longest a purge may hold
	// a request up (the scale scenario counts them).
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on"+
		" -c shared_preload_libraries=pg_stat_statements -c log_min_duration_statement=50 -c log_lock_waits=on -c deadlock_timeout=50ms"+
		" -c log_checkpoints=on -c log_autovacuum_min_duration=0 -c track_io_timing=on -c track_wal_io_timing=on"+
		" -c log_line_prefix='%%m [%%p] '", p.port, p.dir)
	return p.ctl(ctx, "pg_ctl", "-D", p.dir, "-o", opts, "-l", p.dir+".log", "-w", "start")
}

// stop shuts the cluster down the way an operator's restart does (fast:
// open transactions are rolled back, connections cut).
func (p *postgres) stop(ctx context.Context) error {
	return p.ctl(ctx, "pg_ctl", "-D", p.dir, "-m", "fast", "-w", "stop")
}

func (p *postgres) destroy() { _ = p.stop(context.Background()) }

// url is the connection URL of database db.
func (p *postgres) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

// createDB makes a fresh, empty database.
func (p *postgres) createDB(ctx context.Context, name string) (string, error) {
	db, err := sql.Open("pgx", p.url("postgres"))
	if err != nil {
		return "", err
	}
	defer func() { _ = db.Close() }()
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return p.url(name), nil
}

// redisServer is a redis-server of this program's own, without persistence.
type redisServer struct {
	port int
	log  string
	proc *exec.Cmd
	done chan struct{}
}

func startRedis(logPath string) (*redisServer, error) {
	addr, err := harness.FreeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	r := &redisServer{log: logPath}
	if _, err := fmt.Sscan(port, &r.port); err != nil {
		return nil, fmt.Errorf("port of %s: %w", addr, err)
	}
	return r, r.start()
}

func (r *redisServer) start() error {
	f, err := os.OpenFile(r.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	r.proc = exec.Command("redis-server", //nolint:gosec,noctx // G204: a fixed program on a port of ours; it outlives this call and stop ends it
		"--port", fmt.Sprint(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	r.proc.Stdout, r.proc.Stderr = f, f
	if err := r.proc.Start(); err != nil {
		_ = f.Close()
		return fmt.Errorf("redis-server: %w (apt-get install redis-server)", err)
	}
	r.done = make(chan struct{})
	go func() { _ = r.proc.Wait(); _ = f.Close(); close(r.done) }()
	for range 100 {
		if c, err := (&net.Dialer{Timeout: time.Second}).DialContext(context.Background(), "tcp", r.addr()); err == nil {
			_ = c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("redis-server did not start")
}

// kill ends Redis at once, as a crash or a node loss would.
func (r *redisServer) kill() {
	if r.proc != nil && r.proc.Process != nil {
		_ = r.proc.Process.Kill()
		<-r.done
	}
}

func (r *redisServer) stop() { r.kill() }

func (r *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }
func (r *redisServer) url() string  { return "redis://" + r.addr() + "/0" }

// instance is one running service process.
type instance struct {
	name string
	base string // http://addr
	env  []string
	proc *harness.Process
	rig  *rig
	runs int
}

// newInstance prepares (without starting) a service on a free port.
func (r *rig) newInstance(name, dbURL string, extra ...string) (*instance, error) {
	addr, err := harness.FreeAddr()
	if err != nil {
		return nil, err
	}
	env := append(harness.ServiceEnv(addr, dbURL, r.tmp), extra...)
	return &instance{name: name, base: "http://" + addr, env: env, rig: r}, nil
}

// start starts the service and waits for /readyz.
func (in *instance) start(ctx context.Context) error {
	in.runs++
	p, err := harness.StartProcess(in.rig.bin, []string{"serve"}, in.env,
		filepath.Join(in.rig.tmp, fmt.Sprintf("%s-%d.log", in.name, in.runs)))
	if err != nil {
		return err
	}
	in.proc = p
	if err := p.WaitHTTP(ctx, in.base+"/readyz", 30*time.Second); err != nil {
		p.Stop()
		return fmt.Errorf("%s: %w", in.name, err)
	}
	return nil
}

func (in *instance) stop() {
	if in.proc != nil {
		in.proc.Stop()
	}
}

// logs is every log line of every run of the instance.
func (in *instance) logs() string {
	var b strings.Builder
	for i := 1; i <= in.runs; i++ {
		data, _ := os.ReadFile(filepath.Join(in.rig.tmp, fmt.Sprintf("%s-%d.log", in.name, i)))
		b.Write(data)
	}
	return b.String()
}

// count500s counts the log lines of requests that failed with a 500.
func (in *instance) count500s() int { return strings.Count(in.logs(), `"status":500`) }

// seed adds users [0, n) with the CLI and issues the plan's tokens in the
// store directly (harness.SeedTokens), as cmd/loadtest does.
func (r *rig) seed(ctx context.Context, in *instance, dbURL string, p harness.Plan) (harness.Supply, error) {
	if err := harness.SeedUsers(ctx, r.bin, in.env, r.tmp, p.Users, 0); err != nil {
		return harness.Supply{}, err
	}
	return harness.SeedTokens(ctx, dbURL, p, strings.HasPrefix(dbURL, "postgres"))
}

// startSQLite makes a single instance on its own SQLite file under the
// rig's directory, seeds it with p and starts it: the prologue of every
// single-instance scenario. The caller stops it.
func (r *rig) startSQLite(ctx context.Context, name string, p harness.Plan, extra ...string) (*instance, harness.Supply, error) {
	dbURL := "sqlite:" + filepath.Join(r.tmp, name+".db")
	in, err := r.newInstance(name, dbURL, extra...)
	if err != nil {
		return nil, harness.Supply{}, err
	}
	sup, err := r.seed(ctx, in, dbURL, p)
	if err == nil {
		err = in.start(ctx)
	}
	return in, sup, err
}
