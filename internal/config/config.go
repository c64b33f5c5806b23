// Package config reads verbund's settings from flags and the environment
// (VERBUND_*; secrets also from VERBUND_*_FILE) and validates them before
// anything starts.
package config

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the hub's configuration.
type Config struct {
	Addr       string // listen address
	DataDir    string // SQLite database and demo logins
	DB         string // postgres://… or empty for SQLite in DataDir
	Demo       bool   // seed the demo ecosystem into an empty database
	TLSCert    string
	TLSKey     string
	LogFormat  string // text or json
	LogLevel   string // debug, info, warn, error
	TrustProxy bool   // take client addresses from X-Forwarded-For
	BaseURL    string // how users reach the hub (printed at start)
	ReadCache  int    // MB of memory for cached API pages (internal/readcache); 0 turns the cache off
	// StreamHeartbeat overrides the live streams' heartbeat (tests; no
	// flag): 0 keeps the default of 25 s.
	StreamHeartbeat time.Duration
	// TraceKinds records which shareable kinds each route reads (tests;
	// no flag).
	TraceKinds bool
}

// Env looks up environment variables (injected for tests).
type Env func(string) string

// Flags registers the serve flags on fs with defaults from env.
func Flags(fs *flag.FlagSet, env Env) *Config {
	c := &Config{}
	get := func(name, def string) string {
		if v := env("VERBUND_" + name); v != "" {
			return v
		}
		if f := env("VERBUND_" + name + "_FILE"); f != "" {
			if b, err := os.ReadFile(f); err == nil { // #nosec G304 -- the operator names the secret file in VERBUND_*_FILE
				return strings.TrimSpace(string(b))
			}
		}
		return def
	}
	fs.StringVar(&c.Addr, "addr", get("ADDR", "127.0.0.1:8080"), "listen address (VERBUND_ADDR)")
	fs.StringVar(&c.DataDir, "data", get("DATA", "verbund-data"), "data folder for the embedded SQLite database (VERBUND_DATA)")
	fs.StringVar(&c.DB, "db", get("DB", ""), "PostgreSQL URL postgres://… instead of SQLite (VERBUND_DB, or VERBUND_DB_FILE)")
	fs.BoolVar(&c.Demo, "demo", get("DEMO", "") == "1", "create the demo ecosystem in an empty database (VERBUND_DEMO=1)")
	fs.StringVar(&c.TLSCert, "tls-cert", get("TLS_CERT", ""), "TLS certificate file (VERBUND_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", get("TLS_KEY", ""), "TLS private key file (VERBUND_TLS_KEY)")
	fs.StringVar(&c.LogFormat, "log-format", get("LOG_FORMAT", ""), "log format: text or json (default: text in a terminal, else json)")
	fs.StringVar(&c.LogLevel, "log-level", get("LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	fs.BoolVar(&c.TrustProxy, "trust-proxy", get("TRUST_PROXY", "") == "1", "take client addresses from X-Forwarded-For (behind a reverse proxy)")
	fs.StringVar(&c.BaseURL, "base-url", get("BASE_URL", ""), "public URL of the hub, printed at start (default from --addr)")
	fs.IntVar(&c.ReadCache, "read-cache", atoiOr(get("READ_CACHE", ""), 16), "MB of memory for cached API list pages, 0 to turn the cache off (VERBUND_READ_CACHE)")
	return c
}

// atoiOr parses s as a number, or returns def when s is empty or not a
// number (Validate then checks the range).
func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// Validate fails fast on contradictions.
func (c *Config) Validate() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together: give both or neither")
	}
	if c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") && !strings.HasPrefix(c.DB, "sqlite:") {
		return fmt.Errorf("--db must be a postgres:// URL (or sqlite:PATH); leave it empty for SQLite in --data")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level must be debug, info, warn or error")
	}
	if c.LogFormat != "" && c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format must be text or json")
	}
	if c.ReadCache < 0 || c.ReadCache > 4096 {
		return fmt.Errorf("--read-cache must be 0 (off) to 4096 MB")
	}
	if c.Addr == "" {
		return fmt.Errorf("--addr must not be empty")
	}
	return nil
}

// URL is where users reach the hub.
func (c *Config) URL(actualAddr string) string {
	if c.BaseURL != "" {
		return strings.TrimRight(c.BaseURL, "/")
	}
	scheme := "http"
	if c.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + actualAddr
}

// Secure reports whether users reach the hub over HTTPS: served with TLS
// here, or behind a TLS-terminating proxy announced by an https:// base
// URL. Cookies are then marked Secure and HSTS is sent.
func (c *Config) Secure() bool {
	return c.TLSCert != "" || strings.HasPrefix(c.BaseURL, "https://")
}
