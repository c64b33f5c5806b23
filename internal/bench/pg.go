package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"
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
