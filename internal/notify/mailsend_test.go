package notify_test

import (
	"context"
	"strings"
	"testing"

	"verbund/internal/notify"
	"verbund/internal/notify/notifytest"
)

// SendTestMail (verbund mail test) says what failed, against real SMTP
// servers on loopback: no server, TLS that cannot work, a login the
// server does not offer; and sends when the settings are right.
func TestSendTestMail(t *testing.T) {
	plain, secure := notifytest.StartMailServer(t), notifytest.StartTLSMailServer(t)
	ctx := context.Background()
	cfg := func(addr, mode string) notify.MailConfig {
		return notify.MailConfig{Addr: addr, From: "verbund <hub@example.org>", TLS: mode, BaseURL: "https://hub.example"}
	}
	withLogin := cfg(plain.Addr, "none")
	withLogin.User, withLogin.Password = "hub", "pw"
	for _, c := range []struct {
		name string
		cfg  notify.MailConfig
		want string
	}{
		{"no server", cfg("127.0.0.1:1", "none"), "could not be reached: check --smtp-addr"},
		{"implicit TLS to a plain server", cfg(plain.Addr, "tls"), "the encrypted connection to " + plain.Addr + " failed: check --smtp-tls"},
		{"STARTTLS the server does not offer", cfg(plain.Addr, "starttls"), "failed: check --smtp-tls"},
		{"a certificate nobody trusts", cfg(secure.Addr, "starttls"), "failed: check --smtp-tls"},
		{"a login the server does not offer", withLogin, `refused the login of --smtp-user "hub"`},
	} {
		err := notify.SendTestMail(ctx, c.cfg, "ops@example.org", "en")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if n := len(plain.Mails()) + len(secure.Mails()); n != 0 {
		t.Errorf("%d mails arrived through broken settings", n)
	}
	if err := notify.SendTestMail(ctx, cfg(plain.Addr, "none"), "ops@example.org", "de"); err != nil {
		t.Fatal(err)
	}
	if m := plain.Mails(); len(m) != 1 || m[0].Subject != "[verbund] Test-E-Mail" || m[0].Lang != "de" {
		t.Errorf("the test mail: %+v", m)
	}
}
