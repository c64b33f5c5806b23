package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"verbund/internal/db"
)

// throwawayPostgres creates an empty database vb_bench_<random> on the
// server that adminURL names (a role that may CREATE DATABASE) and returns
// its URL and a function that drops it again, also while replicas still
// hold connections (WITH (FORCE), PostgreSQL 13 and later). The bench
// never writes into the database the admin URL names itself.
func throwawayPostgres(ctx context.Context, adminURL string) (string, func() error, error) {
	if !strings.HasPrefix(adminURL, "postgres://") && !strings.HasPrefix(adminURL, "postgresql://") {
		return "", nil, fmt.Errorf("the PostgreSQL admin URL must start with postgres:// (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)")
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("parse the PostgreSQL admin URL: %w", err)
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	name := "vb_bench_" + hex.EncodeToString(b) // letters and digits only: safe to write into the statement
	// The hubs get the URL's pool size; the server refuses it as a setting.
	adminURL = withoutPool(adminURL)
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("open the PostgreSQL admin URL: %w", err)
	}
	defer admin.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(cctx, `CREATE DATABASE `+name); err != nil {
		return "", nil, fmt.Errorf("create the throwaway database %s: %w", name, err)
	}
	drop := func() error {
		// Not the caller's context: the database is dropped after an
		// interrupted run too.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		c, err := sql.Open("pgx", adminURL)
		if err != nil {
			return fmt.Errorf("drop %s: %w", name, err)
		}
		defer c.Close()
		if _, err := c.ExecContext(dctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			return fmt.Errorf("drop the throwaway database %s: %w", name, err)
		}
		return nil
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// withoutPool is a PostgreSQL URL without the hub's own pool_max_conns,
// for the bench's own connections (as the hub takes it out: db.PoolSize).
func withoutPool(raw string) string {
	u, _, err := db.PoolSize(raw)
	if err != nil {
		return raw // the hubs refuse it by name
	}
	return u
}

// postgresPID returns the process id of the local PostgreSQL server that
// dbURL reaches (its postmaster), or 0 when the server is not on this
// machine or its processes cannot be read: then its CPU is not measured.
// The hubs of a PostgreSQL run spend most of a request waiting for the
// server, which shares the machine's cores when it runs here.
func postgresPID(ctx context.Context, dbURL string) int {
	u, err := url.Parse(dbURL)
	if err != nil {
		return 0
	}
	switch h := u.Hostname(); h {
	case "127.0.0.1", "::1", "localhost", "":
	default:
		return 0 // a backend id of another machine
	}
	c, err := sql.Open("pgx", withoutPool(dbURL))
	if err != nil {
		return 0
	}
	defer c.Close()
	var backend int
	if err := c.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return 0
	}
	f, err := procStat(backend)
	if err != nil || len(f) < 2 {
		return 0
	}
	parent, err := strconv.Atoi(f[1])
	if err != nil {
		return 0
	}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", parent)); err != nil || !strings.HasPrefix(string(comm), "postgres") {
		return 0
	}
	return parent
}

// treeCPU is the CPU time of process pid and all its children, those
// that ended included: the process's own time and its reaped children's
// (cutime, cstime) plus the time of the children still running. The
// difference of two readings is what the whole tree used in between, also
// when children ended or started meanwhile (a connection's backend).
func treeCPU(pid int) (time.Duration, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	total := ticks(f, 11, 12, 13, 14)
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("list processes: %w", err)
	}
	parent := strconv.Itoa(pid)
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cf, err := procStat(child); err == nil && len(cf) > 14 && cf[1] == parent {
			total += ticks(cf, 11, 12)
		}
	}
	return total, nil
}

// procStat returns the fields of /proc/<pid>/stat after the command name
// (state first, then the parent's id, …; utime is field 11).
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	// The command name in parentheses may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("unreadable /proc/%d/stat", pid)
	}
	return strings.Fields(string(b[i+1:])), nil
}

func ticks(f []string, fields ...int) time.Duration {
	var t int64
	for _, i := range fields {
		if i < len(f) {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			t += n
		}
	}
	return time.Duration(t) * time.Second / clockTicks
}
