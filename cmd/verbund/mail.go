package main

import (
	"fmt"
	"net/mail"
	"strings"

	"verbund/internal/notify"
)

// mailTest sends one test mail with the mail settings serve would use
// (the same flags and VERBUND_SMTP_* variables) and says what failed.
func (c *cli) mailTest(args []string) error {
	fs, cfg := c.flagSet("mail test --to ADDRESS [flags]",
		"Sends one test mail with the hub's mail settings (the same flags and VERBUND_SMTP_* variables as serve) and says what failed.",
		"smtp-addr", "smtp-user", "smtp-password-file", "smtp-from", "smtp-tls", "base-url")
	to := fs.String("to", "", "the address the test mail goes to (required)")
	lang := fs.String("lang", "en", "language of the test mail: en or de")
	if err := c.parseConfig(fs, cfg, args); err != nil {
		return err
	}
	if *to == "" {
		return usageError{"mail test: give the address the test mail goes to with --to"}
	}
	if a, err := mail.ParseAddress(*to); err != nil || a.Address != strings.TrimSpace(*to) {
		return usageError{fmt.Sprintf("--to %q is no e-mail address: give one like you@example.org", *to)}
	}
	if cfg.SMTP.Addr == "" {
		return usageError{"no mail server is configured: give --smtp-addr host:port and --smtp-from (or VERBUND_SMTP_ADDR, VERBUND_SMTP_FROM), as for serve"}
	}
	m := cfg.SMTP
	err := notify.SendTestMail(c.ctx, notify.MailConfig{Addr: m.Addr, User: m.User, Password: m.Password, From: m.From, TLS: m.TLS, BaseURL: cfg.BaseURL}, *to, *lang)
	if err != nil {
		return fmt.Errorf("the test mail was not sent: %w", err)
	}
	_, err = fmt.Fprintf(c.stdout, "sent a test mail to %s through %s (%s)\n", *to, m.Addr, m.TLS)
	return err
}
