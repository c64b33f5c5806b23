package config

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSecureBehindProxy(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"--base-url", "http://hub.example"}, false},
		{[]string{"--base-url", "https://hub.example", "--trust-proxy"}, true},
		{[]string{"--tls-cert", "c", "--tls-key", "k"}, true},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		cfg := Flags(fs, func(string) string { return "" })
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		if got := cfg.Secure(); got != c.want {
			t.Errorf("%v: Secure() = %v, want %v", c.args, got, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, args := range [][]string{{"--tls-cert", "c"}, {"--db", "mysql://x"}, {"--log-level", "loud"}, {"--log-format", "xml"}, {"--read-cache", "-1"}, {"--read-cache", "5000"}} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		cfg := Flags(fs, func(string) string { return "" })
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if cfg.Validate() == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func load(t *testing.T, env map[string]string, args ...string) (*Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cfg := Flags(fs, func(k string) string { return env[k] })
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return cfg, cfg.Validate()
}

// A setting the environment gets wrong stops the start with a message
// naming the variable, instead of silently becoming the default.
func TestEnvironmentErrorsFailAtStart(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "db-url")
	if err := os.WriteFile(secret, []byte("postgres://u@h/db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	notANumber := filepath.Join(dir, "read-cache")
	if err := os.WriteFile(notANumber, []byte("lots"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"VERBUND_DB_FILE": missing}, "VERBUND_DB_FILE: open " + missing + ": no such file or directory"},
		{map[string]string{"VERBUND_DB_FILE": dir}, "VERBUND_DB_FILE: read " + dir + ": is a directory"},
		{map[string]string{"VERBUND_DB": "postgres://a@b/c", "VERBUND_DB_FILE": secret}, "VERBUND_DB and VERBUND_DB_FILE are both set"},
		{map[string]string{"VERBUND_READ_CACHE": "abc"}, `VERBUND_READ_CACHE="abc" is not a number`},
		{map[string]string{"VERBUND_READ_CACHE": "16MB"}, `VERBUND_READ_CACHE="16MB" is not a number`},
		{map[string]string{"VERBUND_READ_CACHE_FILE": notANumber}, `VERBUND_READ_CACHE_FILE="lots" is not a number`},
		{map[string]string{"VERBUND_DEMO": "true"}, `VERBUND_DEMO="true": use 1 (on) or 0 (off)`},
		{map[string]string{"VERBUND_TRUST_PROXY": "yes"}, `VERBUND_TRUST_PROXY="yes": use 1 (on) or 0 (off)`},
		{map[string]string{"VERBUND_READ_CACHE": "x", "VERBUND_TLS_KEY_FILE": missing}, `VERBUND_TLS_KEY_FILE: open`},
	} {
		// A flag does not excuse a broken environment either.
		for _, args := range [][]string{nil, {"--read-cache", "8", "--db", "postgres://x@y/z"}} {
			_, err := load(t, c.env, args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v %v: err %v, want %q", c.env, args, err, c.want)
			}
		}
	}
	// Well-formed settings are taken, from the variable or its file.
	cfg, err := load(t, map[string]string{"VERBUND_DB_FILE": secret, "VERBUND_READ_CACHE": "0", "VERBUND_DEMO": "1", "VERBUND_TRUST_PROXY": "0"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DB != "postgres://u@h/db" || cfg.ReadCache != 0 || !cfg.Demo || cfg.TrustProxy {
		t.Errorf("%+v", cfg)
	}
	_, err = load(t, map[string]string{"VERBUND_READ_CACHE_FILE": secret}, "--read-cache", "8")
	if err == nil || !strings.Contains(err.Error(), `VERBUND_READ_CACHE_FILE="postgres://u@h/db" is not a number`) {
		t.Errorf("read cache from a file with a URL: %v", err)
	}
	if cfg, err = load(t, nil); err != nil || cfg.ReadCache != 16 || cfg.DB != "" || cfg.Demo || !cfg.ViewCache {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	// The view cache is on unless turned off.
	if cfg, err = load(t, map[string]string{"VERBUND_VIEW_CACHE": "0"}); err != nil || cfg.ViewCache {
		t.Errorf("VERBUND_VIEW_CACHE=0: %+v, %v", cfg, err)
	}
	if cfg, err = load(t, nil, "--view-cache=false"); err != nil || cfg.ViewCache {
		t.Errorf("--view-cache=false: %+v, %v", cfg, err)
	}
	if _, err = load(t, map[string]string{"VERBUND_VIEW_CACHE": "off"}); err == nil || !strings.Contains(err.Error(), `VERBUND_VIEW_CACHE="off": use 1 (on) or 0 (off)`) {
		t.Errorf("VERBUND_VIEW_CACHE=off: %v", err)
	}
}

// TestTrustedProxies (issue 7, item 19): the proxies whose X-Forwarded-For
// entries are believed.
func TestTrustedProxies(t *testing.T) {
	cfg, err := load(t, map[string]string{"VERBUND_TRUST_PROXY": "1", "VERBUND_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7,fd00::/8,::ffff:198.51.100.0/120"})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := cfg.Proxies()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	if want := "10.0.0.0/8 192.0.2.7/32 fd00::/8 198.51.100.0/24"; strings.Join(got, " ") != want {
		t.Errorf("proxies %v, want %s", got, want)
	}
	if cfg, err := load(t, nil, "--trust-proxy"); err != nil || cfg.TrustedProxies != "" {
		t.Errorf("default: %q %v", cfg.TrustedProxies, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--trust-proxy", "--trusted-proxies", "10.0.0.0/33"}, `"10.0.0.0/33" is neither`},
		{[]string{"--trust-proxy", "--trusted-proxies", "proxy.example"}, `"proxy.example" is neither`},
		{[]string{"--trusted-proxies", "10.0.0.0/8"}, "give --trust-proxy too"},
	} {
		if _, err := load(t, nil, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}

// TestMailSettings: malformed SMTP settings stop the start with a message
// that names the setting and what to do; good ones are taken, the
// password only from the environment or a file.
func TestMailSettings(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "smtp-password")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--base-url", "https://hub.example"}
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--smtp-addr", "smtp.example.org"}, `--smtp-addr "smtp.example.org" must be host:port`},
		{nil, []string{"--smtp-addr", "smtp.example.org:99999"}, "must be host:port"},
		{nil, []string{"--smtp-addr", ":587"}, "must be host:port"},
		{nil, []string{"--smtp-addr", "smtp.example.org:587"}, "--smtp-from is needed with --smtp-addr"},
		{nil, []string{"--smtp-addr", "smtp.example.org:587", "--smtp-from", "not an address"}, `--smtp-from "not an address" is no e-mail address`},
		{nil, []string{"--smtp-addr", "smtp.example.org:587", "--smtp-from", "hub@example.org", "--smtp-tls", "ssl"}, `--smtp-tls "ssl" must be none, starttls`},
		{nil, []string{"--smtp-addr", "smtp.example.org:587", "--smtp-from", "hub@example.org", "--smtp-user", "hub"}, `--smtp-user "hub" needs a password: set VERBUND_SMTP_PASSWORD`},
		{map[string]string{"VERBUND_SMTP_PASSWORD": "x"}, []string{"--smtp-addr", "smtp.example.org:587", "--smtp-from", "hub@example.org"}, "an SMTP password is set but no --smtp-user"},
		{map[string]string{"VERBUND_SMTP_PASSWORD": "x"}, []string{"--smtp-addr", "smtp.example.org:25", "--smtp-from", "hub@example.org", "--smtp-user", "hub", "--smtp-tls", "none"}, "--smtp-tls none would send the SMTP password unencrypted"},
		{map[string]string{"VERBUND_SMTP_PASSWORD": "x"}, []string{"--smtp-addr", "smtp.example.org:587", "--smtp-from", "hub@example.org", "--smtp-user", "hub", "--smtp-password-file", pw}, "--smtp-password-file and VERBUND_SMTP_PASSWORD are both set"},
		{nil, []string{"--smtp-addr", "smtp.example.org:587", "--smtp-from", "hub@example.org", "--smtp-user", "hub", "--smtp-password-file", filepath.Join(dir, "missing")}, "--smtp-password-file: open"},
		{nil, []string{"--smtp-from", "hub@example.org"}, "need --smtp-addr (VERBUND_SMTP_ADDR)"},
		{map[string]string{"VERBUND_MAIL_DIGEST_INTERVAL": "daily"}, nil, `VERBUND_MAIL_DIGEST_INTERVAL="daily" is not a duration`},
		{nil, []string{"--mail-digest-interval", "0s"}, "--mail-digest-interval must be 1s to 168h"},
	} {
		_, err := load(t, c.env, append(slices.Clone(base), c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: %v, want %q", c.env, c.args, err, c.want)
		}
	}
	if _, err := load(t, nil, "--smtp-addr", "smtp.example.org:587", "--smtp-from", "hub@example.org"); err == nil || !strings.Contains(err.Error(), "--smtp-addr needs --base-url") {
		t.Errorf("no base URL: %v", err)
	}
	cfg, err := load(t, map[string]string{"VERBUND_SMTP_ADDR": "smtp.example.org:465", "VERBUND_SMTP_FROM": "verbund <hub@example.org>", "VERBUND_SMTP_USER": "hub", "VERBUND_SMTP_PASSWORD_FILE": pw}, base...)
	if err != nil || cfg.SMTP.TLS != "tls" || cfg.SMTP.Password != "s3cret" || cfg.MailDigest != 24*time.Hour {
		t.Errorf("from the environment: %+v %v", cfg.SMTP, err)
	}
	cfg, err = load(t, nil, append(base, "--smtp-addr", "127.0.0.1:2525", "--smtp-from", "hub@example.org", "--smtp-user", "hub", "--smtp-password-file", pw, "--smtp-tls", "none")...)
	if err != nil || cfg.SMTP.Password != "s3cret" {
		t.Errorf("a password in clear to loopback: %+v %v", cfg.SMTP, err)
	}
	if cfg, err := load(t, nil, "--smtp-addr", "smtp.example.org:587", "--smtp-from", "hub@example.org", "--base-url", "https://h.example"); err != nil || cfg.SMTP.TLS != "starttls" {
		t.Errorf("default TLS: %+v %v", cfg.SMTP, err)
	}
}
