// Package config reads verbund's settings from flags and the environment
// (VERBUND_*; secrets also from VERBUND_*_FILE) and validates them before
// anything starts.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
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
	// ThreadCache is MB of memory for threads' first posts, judged for
	// each reader in memory (internal/forum, threadcache.go); 0: off.
	ThreadCache int
	// ThreadCachePosts is how many of a thread's first posts the thread
	// cache keeps (0: 1,000). No flag: tests set it small to reach its
	// edge.
	ThreadCachePosts int
	// ViewCache keeps orgs' views (circles, partners) and API tokens'
	// holders in memory between requests (policy.Views,
	// accounts.CacheTokens); off, every request reads both.
	ViewCache  bool
	SearchRate int    // full-text searches a user may run per minute, after a burst of 20 (internal/forum)
	MaxActive  int    // requests worked on at once, writes first (internal/web, admission.go); 0: 3 per core
	DebugAddr  string // listen address of the diagnostics (Prometheus metrics, Go profiles); "" for none
	// IndexMergeLook is how often the hub looks whether its full-text
	// index is idle, to merge it (internal/search, merge.go): 0 is every
	// 2 s, negative never (tests that watch the index themselves).
	IndexMergeLook time.Duration
	// CSAFProviderOrg is the org (its id or exact name) whose CSAF
	// provider also answers at /.well-known/csaf/ (internal/vulns).
	CSAFProviderOrg string
	// WebhookAllowPrivate lets webhooks reach loopback and private
	// addresses (internal/notify); off, such targets are refused.
	WebhookAllowPrivate bool
	// CSAFAllowPrivate lets CSAF provider subscriptions reach plain http
	// and loopback or private addresses (internal/vulns); off, refused.
	CSAFAllowPrivate bool
	// CSAFCAFile names PEM certificates of authorities trusted for CSAF
	// providers besides the system's (a lab's own CA); "" none.
	CSAFCAFile string
	// SMTP is the mail server the hub sends e-mail notifications through
	// (internal/notify); an empty Addr turns e-mail off.
	SMTP SMTP
	// MailDigest is how often people who chose the daily digest get it
	// (--mail-digest-interval; tests shorten it).
	MailDigest time.Duration
	// MailBackoff overrides the mail outbox's retry schedule (tests; no
	// flag): nil keeps the default of about a day of trying.
	MailBackoff []time.Duration
	// TrustedProxies lists the reverse proxies (CIDRs or addresses, comma
	// separated) whose X-Forwarded-For entries are believed; "" trusts only
	// the connection's peer. Read with Proxies.
	TrustedProxies string
	// StreamHeartbeat overrides the live streams' heartbeat (tests; no
	// flag): 0 keeps the default of 25 s.
	StreamHeartbeat time.Duration
	// TraceKinds records which shareable kinds each route reads (tests;
	// no flag).
	TraceKinds bool

	// envErrs are the environment's faults that Flags found (an
	// unreadable *_FILE, a malformed number); Validate reports them, so
	// that a setting is never silently replaced by its default.
	envErrs []error
}

// SMTP is how the hub reaches its mail server.
type SMTP struct {
	Addr     string // host:port; "" for no e-mail
	User     string // "" for no login
	Password string // only from VERBUND_SMTP_PASSWORD(_FILE) or --smtp-password-file, never a flag's value
	From     string // the sender, e.g. "verbund <hub@example.org>"
	TLS      string // none, starttls or tls
	// PasswordFile is --smtp-password-file, read by Validate.
	PasswordFile string
}

// Env looks up environment variables (injected for tests).
type Env func(string) string

// Flags registers the serve flags on fs with defaults from env. A
// setting the environment gets wrong (an unreadable VERBUND_*_FILE, a
// number or switch that is none) is reported by Validate.
func Flags(fs *flag.FlagSet, env Env) *Config {
	c := &Config{}
	// lookup returns VERBUND_<name>, else the content of the file named
	// by VERBUND_<name>_FILE, and which of the two it was ("" when
	// neither is set).
	lookup := func(name string) (value, from string) {
		v, f := env("VERBUND_"+name), env("VERBUND_"+name+"_FILE")
		switch {
		case v != "" && f != "":
			c.envErrs = append(c.envErrs, fmt.Errorf("VERBUND_%s and VERBUND_%s_FILE are both set: give one of them", name, name))
			return "", ""
		case v != "":
			return v, "VERBUND_" + name
		case f != "":
			b, err := os.ReadFile(f) // #nosec G304 -- the operator names the secret file in VERBUND_*_FILE
			if err != nil {
				c.envErrs = append(c.envErrs, fmt.Errorf("VERBUND_%s_FILE: %w", name, err))
				return "", ""
			}
			return strings.TrimSpace(string(b)), "VERBUND_" + name + "_FILE"
		}
		return "", ""
	}
	get := func(name, def string) string {
		if v, from := lookup(name); from != "" {
			return v
		}
		return def
	}
	num := func(name string, def int) int {
		v, from := lookup(name)
		if from == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			c.envErrs = append(c.envErrs, fmt.Errorf("%s=%q is not a number", from, v))
			return def
		}
		return n
	}
	dur := func(name string, def time.Duration) time.Duration {
		v, from := lookup(name)
		if from == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			c.envErrs = append(c.envErrs, fmt.Errorf("%s=%q is not a duration like 24h or 30m", from, v))
			return def
		}
		return d
	}
	onOr := func(name string, def bool) bool {
		v, from := lookup(name)
		switch {
		case from == "":
			return def
		case v == "0":
			return false
		case v == "1":
			return true
		}
		c.envErrs = append(c.envErrs, fmt.Errorf("%s=%q: use 1 (on) or 0 (off)", from, v))
		return def
	}
	on := func(name string) bool { return onOr(name, false) }
	fs.StringVar(&c.Addr, "addr", get("ADDR", "127.0.0.1:8080"), "listen address (VERBUND_ADDR)")
	fs.StringVar(&c.DataDir, "data", get("DATA", "verbund-data"), "data folder for the embedded SQLite database (VERBUND_DATA)")
	c.DB = get("DB", "")
	// Its password never shows in --help, which prints the default (the
	// environment's value).
	fs.Var(redacted{&c.DB}, "db", "PostgreSQL URL postgres://… instead of SQLite (VERBUND_DB, or VERBUND_DB_FILE)")
	fs.BoolVar(&c.Demo, "demo", on("DEMO"), "create the demo ecosystem in an empty database (VERBUND_DEMO=1)")
	fs.StringVar(&c.TLSCert, "tls-cert", get("TLS_CERT", ""), "TLS certificate file (VERBUND_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", get("TLS_KEY", ""), "TLS private key file (VERBUND_TLS_KEY)")
	fs.StringVar(&c.LogFormat, "log-format", get("LOG_FORMAT", ""), "log format: text or json (default: text in a terminal, else json)")
	fs.StringVar(&c.LogLevel, "log-level", get("LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	fs.BoolVar(&c.TrustProxy, "trust-proxy", on("TRUST_PROXY"), "behind a reverse proxy: the client address is the rightmost X-Forwarded-For entry that is not a trusted proxy (VERBUND_TRUST_PROXY=1)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", get("TRUSTED_PROXIES", ""), "with --trust-proxy: the reverse proxies in front of the hub, CIDR,… (VERBUND_TRUSTED_PROXIES; default: only the connection's peer, one proxy)")
	fs.StringVar(&c.BaseURL, "base-url", get("BASE_URL", ""), "public URL of the hub, printed at start (default from --addr)")
	fs.StringVar(&c.CSAFProviderOrg, "csaf-provider-org", get("CSAF_PROVIDER_ORG", ""), "the organisation (its id or exact name, e.g. \"Wolke Cloud AG\") whose CSAF provider also answers at /.well-known/csaf/provider-metadata.json and in /.well-known/security.txt (VERBUND_CSAF_PROVIDER_ORG; with --demo: Wolke Cloud AG)")
	fs.IntVar(&c.ReadCache, "read-cache", num("READ_CACHE", 16), "MB of memory for cached API list pages, 0 to turn the cache off (VERBUND_READ_CACHE)")
	fs.IntVar(&c.ThreadCache, "thread-cache", num("THREAD_CACHE", 256), "MB of memory for the first posts of threads being read, the feed's newest and channels' thread lists, judged for each reader in memory; 0 to turn it off (VERBUND_THREAD_CACHE)")
	fs.BoolVar(&c.ViewCache, "view-cache", onOr("VIEW_CACHE", true), "keep each organisation's circles and agreements, and each API token's holder, in memory between requests, until a change to them is recorded or an agreement starts or ends; --view-cache=false to read them on every request (VERBUND_VIEW_CACHE=0)")
	fs.IntVar(&c.MaxActive, "max-active", num("MAX_ACTIVE", 0), "requests the hub works on at once, writes before reads; the rest wait their turn (VERBUND_MAX_ACTIVE; default 0: 3 per CPU core, at least 4; live streams do not count)")
	fs.IntVar(&c.SearchRate, "search-rate", num("SEARCH_RATE", 60), "full-text searches a user may run per minute after a burst of 20 (VERBUND_SEARCH_RATE); a search's time must not be cheap to measure")
	fs.BoolVar(&c.WebhookAllowPrivate, "webhook-allow-private", on("WEBHOOK_ALLOW_PRIVATE"), "let webhooks reach loopback and private addresses (VERBUND_WEBHOOK_ALLOW_PRIVATE=1); off, such targets are refused, so a webhook cannot probe the hub's own network")
	fs.BoolVar(&c.CSAFAllowPrivate, "csaf-allow-private", on("CSAF_ALLOW_PRIVATE"), "let CSAF provider subscriptions reach plain http and loopback or private addresses (VERBUND_CSAF_ALLOW_PRIVATE=1), for a lab; off, such providers are refused")
	fs.StringVar(&c.CSAFCAFile, "csaf-ca-file", get("CSAF_CA_FILE", ""), "PEM file of certificate authorities trusted for CSAF providers besides the system's, for a lab's own CA (VERBUND_CSAF_CA_FILE)")
	fs.StringVar(&c.SMTP.Addr, "smtp-addr", get("SMTP_ADDR", ""), "mail server for e-mail notifications, host:port (VERBUND_SMTP_ADDR; default none: no e-mail)")
	fs.StringVar(&c.SMTP.User, "smtp-user", get("SMTP_USER", ""), "login at the mail server (VERBUND_SMTP_USER); its password only from VERBUND_SMTP_PASSWORD, VERBUND_SMTP_PASSWORD_FILE or --smtp-password-file")
	c.SMTP.Password = get("SMTP_PASSWORD", "")
	fs.StringVar(&c.SMTP.PasswordFile, "smtp-password-file", "", "file holding the mail server password (instead of VERBUND_SMTP_PASSWORD)")
	fs.StringVar(&c.SMTP.From, "smtp-from", get("SMTP_FROM", ""), "sender of the hub's mails, e.g. \"verbund <hub@example.org>\" (VERBUND_SMTP_FROM)")
	fs.StringVar(&c.SMTP.TLS, "smtp-tls", get("SMTP_TLS", ""), "none, starttls or tls: how the connection to the mail server is encrypted (VERBUND_SMTP_TLS; default tls on port 465, else starttls)")
	fs.DurationVar(&c.MailDigest, "mail-digest-interval", dur("MAIL_DIGEST_INTERVAL", 24*time.Hour), "how often people who chose the digest get it (VERBUND_MAIL_DIGEST_INTERVAL)")
	fs.StringVar(&c.DebugAddr, "debug-addr", get("DEBUG_ADDR", ""), "listen address of the diagnostics: Prometheus /metrics and Go profiles /debug/pprof/ (VERBUND_DEBUG_ADDR; default none; bind it to loopback or a private network)")
	return c
}

// Validate fails fast on what the environment got wrong and on
// contradictions.
func (c *Config) Validate() error {
	if len(c.envErrs) > 0 {
		return errors.Join(c.envErrs...)
	}
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
	if c.ThreadCache < 0 || c.ThreadCache > 4096 {
		return fmt.Errorf("--thread-cache must be 0 (off) to 4096 MB")
	}
	if c.MaxActive < 0 || c.MaxActive == 1 || c.MaxActive > 100000 {
		return fmt.Errorf("--max-active must be 0 (3 per CPU core) or 2 to 100000 requests (one place is always kept for reads)")
	}
	if c.SearchRate < 1 || c.SearchRate > 1000000 {
		return fmt.Errorf("--search-rate must be 1 to 1000000 searches a minute")
	}
	if c.Addr == "" {
		return fmt.Errorf("--addr must not be empty")
	}
	if _, err := c.Proxies(); err != nil {
		return err
	}
	if c.TrustedProxies != "" && !c.TrustProxy {
		return fmt.Errorf("--trusted-proxies names the proxies whose X-Forwarded-For is believed: give --trust-proxy too")
	}
	return c.validateMail()
}

// validateMail checks the mail settings: a hub that would fail at its
// first mail refuses to start instead, naming the setting.
func (c *Config) validateMail() error {
	if c.MailDigest < time.Second || c.MailDigest > 7*24*time.Hour {
		return fmt.Errorf("--mail-digest-interval must be 1s to 168h (VERBUND_MAIL_DIGEST_INTERVAL), e.g. 24h")
	}
	m := &c.SMTP
	if m.PasswordFile != "" {
		if m.Password != "" {
			return fmt.Errorf("--smtp-password-file and VERBUND_SMTP_PASSWORD are both set: give one of them")
		}
		b, err := os.ReadFile(m.PasswordFile) // #nosec G304 -- the operator names the password file
		if err != nil {
			return fmt.Errorf("--smtp-password-file: %w", err)
		}
		m.Password, m.PasswordFile = strings.TrimSpace(string(b)), ""
	}
	if m.Addr == "" {
		if m.User != "" || m.Password != "" || m.From != "" || m.TLS != "" {
			return fmt.Errorf("--smtp-user, --smtp-from, --smtp-tls and the SMTP password need --smtp-addr (VERBUND_SMTP_ADDR): give the mail server as host:port, or leave them all out for no e-mail")
		}
		return nil
	}
	host, port, err := net.SplitHostPort(m.Addr)
	if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 || strings.ContainsAny(host, "/@ ") {
		return fmt.Errorf("--smtp-addr %q must be host:port of the mail server, e.g. smtp.example.org:587 (VERBUND_SMTP_ADDR)", m.Addr)
	}
	if m.TLS == "" {
		m.TLS = "starttls"
		if port == "465" {
			m.TLS = "tls"
		}
	}
	switch m.TLS {
	case "none", "starttls", "tls":
	default:
		return fmt.Errorf("--smtp-tls %q must be none, starttls (the server upgrades port 587 or 25) or tls (port 465) (VERBUND_SMTP_TLS)", m.TLS)
	}
	if m.From == "" {
		return fmt.Errorf("--smtp-from is needed with --smtp-addr: the sender of the hub's mails, e.g. verbund@example.org (VERBUND_SMTP_FROM)")
	}
	if _, err := mail.ParseAddress(m.From); err != nil || strings.ContainsAny(m.From, "\r\n") {
		return fmt.Errorf("--smtp-from %q is no e-mail address: give one like verbund@example.org or \"verbund <hub@example.org>\" (VERBUND_SMTP_FROM)", m.From)
	}
	if (m.User == "") != (m.Password == "") {
		if m.User == "" {
			return fmt.Errorf("an SMTP password is set but no --smtp-user (VERBUND_SMTP_USER): give the login it belongs to")
		}
		return fmt.Errorf("--smtp-user %q needs a password: set VERBUND_SMTP_PASSWORD, VERBUND_SMTP_PASSWORD_FILE or --smtp-password-file", m.User)
	}
	if m.TLS == "none" && m.Password != "" {
		if a, err := netip.ParseAddr(host); host != "localhost" && (err != nil || !a.IsLoopback()) {
			return fmt.Errorf("--smtp-tls none would send the SMTP password unencrypted to %s: use --smtp-tls starttls or tls", host)
		}
	}
	if c.BaseURL == "" {
		return fmt.Errorf("--smtp-addr needs --base-url (VERBUND_BASE_URL): mails link to the hub at the address its users reach it by")
	}
	return nil
}

// Proxies reads --trusted-proxies: CIDRs or single addresses, separated by
// commas. The client address is the rightmost X-Forwarded-For entry that
// is none of them (web.Server.ClientIP); with none, only the connection's
// peer is trusted, so the client is the last entry.
func (c *Config) Proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(c.TrustedProxies, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("--trusted-proxies: %q is neither a CIDR like 10.0.0.0/8 nor an address", f)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		out = append(out, p.Masked())
	}
	return out, nil
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

// redacted is a string flag whose printed form hides a URL's password.
type redacted struct{ p *string }

func (r redacted) String() string {
	if r.p == nil {
		return ""
	}
	u, err := url.Parse(*r.p)
	if err != nil || u.User == nil {
		return *r.p
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func (r redacted) Set(v string) error { *r.p = v; return nil }
