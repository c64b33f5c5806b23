package config

import (
	"flag"
	"testing"
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
