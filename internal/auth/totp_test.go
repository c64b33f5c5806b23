package auth

import (
	"encoding/base32"
	"net/url"
	"strings"
	"testing"
	"time"
)

// rfcSecret is the RFC 6238 Appendix B SHA-1 key "12345678901234567890" in
// base32.
const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

func TestRFCSecretEncoding(t *testing.T) {
	got := totpB32().EncodeToString([]byte("12345678901234567890"))
	if got != rfcSecret {
		t.Fatalf("base32 of RFC key = %q, want %q", got, rfcSecret)
	}
}

func TestTOTPRFC6238Vectors(t *testing.T) {
	tests := []struct {
		unix int64
		want string // 8-digit code from RFC 6238 Appendix B (SHA-1)
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	key := []byte("12345678901234567890")
	for _, tt := range tests {
		step, ok := totpStep(time.Unix(tt.unix, 0))
		if !ok {
			t.Fatalf("totpStep(%d) not ok", tt.unix)
		}
		if got := hotp(key, uint64(step), 8); got != tt.want {
			t.Errorf("8-digit code at %d = %s, want %s", tt.unix, got, tt.want)
		}
		got, err := TOTPCode(rfcSecret, time.Unix(tt.unix, 0))
		if err != nil {
			t.Fatalf("TOTPCode at %d: %v", tt.unix, err)
		}
		if want := tt.want[2:]; got != want {
			t.Errorf("TOTPCode at %d = %s, want %s", tt.unix, got, want)
		}
	}
}

func TestHOTPRFC4226Vectors(t *testing.T) {
	// RFC 4226 Appendix D, counters 0..9.
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	key := []byte("12345678901234567890")
	for counter, w := range want {
		if got := hotp(key, uint64(counter), 6); got != w {
			t.Errorf("hotp(counter %d) = %s, want %s", counter, got, w)
		}
	}
}

func TestNewTOTPSecret(t *testing.T) {
	a, err := NewTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two secrets are equal: %s", a)
	}
	for _, s := range []string{a, b} {
		if len(s) != 32 || strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
			t.Errorf("secret %q is not 32 upper-case base32 characters", s)
		}
		key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
		if err != nil || len(key) != 20 {
			t.Errorf("secret %q decodes to %d bytes, %v; want 20", s, len(key), err)
		}
		if _, err := TOTPCode(s, time.Now()); err != nil {
			t.Errorf("TOTPCode(new secret): %v", err)
		}
	}
}

func TestTOTPCodeSecretForms(t *testing.T) {
	// The way a user may have typed or copied the RFC secret.
	forms := []string{
		rfcSecret,
		strings.ToLower(rfcSecret),
		"GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ",
		"gezd-gnbv", // not base32: must fail
		rfcSecret + "====",
	}
	want := []bool{true, true, true, false, true}
	for i, s := range forms {
		got, err := TOTPCode(s, time.Unix(59, 0))
		if ok := err == nil && got == "287082"; ok != want[i] {
			t.Errorf("TOTPCode(%q) = %q, %v; want success %v", s, got, err, want[i])
		}
	}
}

func TestTOTPCodeErrors(t *testing.T) {
	tests := []struct {
		name, secret string
		at           time.Time
	}{
		{"empty secret", "", time.Unix(59, 0)},
		{"invalid base32", "GEZDGNBVGY3TQOJ1", time.Unix(59, 0)},
		{"80-bit secret too short", "GEZDGNBVGY3TQOJQ", time.Unix(59, 0)},
		{"before epoch", rfcSecret, time.Unix(-1, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, err := TOTPCode(tt.secret, tt.at)
			if err == nil || code != "" {
				t.Fatalf("TOTPCode = %q, %v; want error", code, err)
			}
		})
	}
}

func TestVerifyTOTP(t *testing.T) {
	// At 1111111111 the step is 37037037 (code 050471); 1111111109 is the
	// previous step 37037036 (code 081804). Other codes are computed.
	now := time.Unix(1111111111, 0)
	const cur = int64(37037037)
	codeAt := func(step int64) string {
		return hotp([]byte("12345678901234567890"), uint64(step), 6)
	}
	tests := []struct {
		name     string
		secret   string
		code     string
		now      time.Time
		lastUsed int64
		wantStep int64
		wantOK   bool
	}{
		{"current step", rfcSecret, "050471", now, 0, cur, true},
		{"previous step", rfcSecret, "081804", now, 0, cur - 1, true},
		{"next step", rfcSecret, codeAt(cur + 1), now, 0, cur + 1, true},
		{"two steps back", rfcSecret, codeAt(cur - 2), now, 0, 0, false},
		{"two steps ahead", rfcSecret, codeAt(cur + 2), now, 0, 0, false},
		{"replay of current", rfcSecret, "050471", now, cur, cur, false},
		{"older than last used", rfcSecret, "081804", now, cur, cur, false},
		{"previous still usable after older", rfcSecret, "081804", now, cur - 2, cur - 1, true},
		{"grouped with space", rfcSecret, "050 471", now, 0, cur, true},
		{"surrounding whitespace", rfcSecret, " 050471\n", now, 7, cur, true},
		{"lower-case secret", strings.ToLower(rfcSecret), "050471", now, 0, cur, true},
		{"wrong code", rfcSecret, "050472", now, 5, 5, false},
		{"five digits", rfcSecret, "50471", now, 0, 0, false},
		{"seven digits", rfcSecret, "1050471", now, 0, 0, false},
		{"eight-digit RFC code", rfcSecret, "14050471", now, 0, 0, false},
		{"non-digits", rfcSecret, "05047a", now, 0, 0, false},
		{"non-ascii digits", rfcSecret, "٠٥٠٤٧١", now, 0, 0, false},
		{"empty code", rfcSecret, "", now, 0, 0, false},
		{"bad secret", "!!!!", "050471", now, 0, 0, false},
		{"before epoch", rfcSecret, "050471", time.Unix(-100, 0), 0, 0, false},
		{"first step, no negative neighbour", rfcSecret, "287082", time.Unix(59, 0), -1, 1, true},
		{"step zero accepted after -1", rfcSecret, "755224", time.Unix(10, 0), -1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, ok := VerifyTOTP(tt.secret, tt.code, tt.now, tt.lastUsed)
			if step != tt.wantStep || ok != tt.wantOK {
				t.Fatalf("VerifyTOTP(%q) = %d, %v; want %d, %v", tt.code, step, ok, tt.wantStep, tt.wantOK)
			}
		})
	}
}

// TestVerifyTOTPAdjacentCollision uses a real collision: for the RFC key,
// counters 910737 and 910738 both yield 911617 (found by search). Recording
// the lower step would let the same code be accepted a second time.
func TestVerifyTOTPAdjacentCollision(t *testing.T) {
	key := []byte("12345678901234567890")
	if a, b := hotp(key, 910737, 6), hotp(key, 910738, 6); a != "911617" || b != "911617" {
		t.Fatalf("collision vector changed: %s, %s", a, b)
	}
	now := time.Unix(910737*30, 0)
	step, ok := VerifyTOTP(rfcSecret, "911617", now, 0)
	if !ok || step != 910738 {
		t.Fatalf("first use = %d, %v; want 910738, true", step, ok)
	}
	if step, ok := VerifyTOTP(rfcSecret, "911617", now, step); ok {
		t.Fatalf("replay accepted with step %d", step)
	}
}

func TestVerifyTOTPRoundTrip(t *testing.T) {
	secret, err := NewTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	code, err := TOTPCode(secret, now)
	if err != nil {
		t.Fatal(err)
	}
	step, ok := VerifyTOTP(secret, code, now.Add(25*time.Second), 0)
	if !ok || step != now.Unix()/30 {
		t.Fatalf("VerifyTOTP = %d, %v; want %d, true", step, ok, now.Unix()/30)
	}
	// The same code must not work twice once the step is stored.
	if _, ok := VerifyTOTP(secret, code, now.Add(35*time.Second), step); ok {
		t.Fatal("replayed code accepted")
	}
}

func TestTOTPURI(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXP"
	const tail = "&algorithm=SHA1&digits=6&period=30"
	tests := []struct {
		name, issuer, account, want string
	}{
		{"plain", "Verbund", "alice@example.com",
			"otpauth://totp/Verbund:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Verbund" + tail},
		{"spaces", "ACME Co", "john doe",
			"otpauth://totp/ACME%20Co:john%20doe?secret=JBSWY3DPEHPK3PXP&issuer=ACME%20Co" + tail},
		{"colons escaped", "a:b", "c:d",
			"otpauth://totp/a%3Ab:c%3Ad?secret=JBSWY3DPEHPK3PXP&issuer=a%3Ab" + tail},
		{"query metacharacters", "A&B=C+D", "x/y?z#",
			"otpauth://totp/A&B=C+D:x%2Fy%3Fz%23?secret=JBSWY3DPEHPK3PXP&issuer=A%26B%3DC%2BD" + tail},
		{"no issuer", "", "alice",
			"otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP" + tail},
		{"unicode", "Verbünd", "jörg",
			"otpauth://totp/Verb%C3%BCnd:j%C3%B6rg?secret=JBSWY3DPEHPK3PXP&issuer=Verb%C3%BCnd" + tail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TOTPURI(secret, tt.issuer, tt.account)
			if got != tt.want {
				t.Fatalf("TOTPURI =\n %s\nwant\n %s", got, tt.want)
			}
			// What an authenticator app will read back.
			u, err := url.Parse(got)
			if err != nil {
				t.Fatalf("url.Parse: %v", err)
			}
			q := u.Query()
			wantLabel := tt.account
			if tt.issuer != "" {
				wantLabel = tt.issuer + ":" + tt.account
			}
			if u.Scheme != "otpauth" || u.Host != "totp" || q.Get("secret") != secret || q.Get("issuer") != tt.issuer {
				t.Errorf("parsed %q: scheme %q host %q secret %q issuer %q", got, u.Scheme, u.Host, q.Get("secret"), q.Get("issuer"))
			}
			if tt.issuer != "a:b" && strings.TrimPrefix(u.Path, "/") != wantLabel {
				t.Errorf("parsed label %q, want %q", u.Path, wantLabel)
			}
		})
	}
}

func FuzzVerifyTOTP(f *testing.F) {
	f.Add(rfcSecret, "050471", int64(1111111111), int64(0))
	f.Add(rfcSecret, "081 804", int64(1111111111), int64(37037035))
	f.Add("", "", int64(-1), int64(-1))
	f.Add("gezdgnbvgy3tqojqgezdgnbvgy3tqojq====", "287082", int64(59), int64(-9223372036854775808))
	f.Add(rfcSecret, "755224", int64(0), int64(9223372036854775807))
	f.Fuzz(func(t *testing.T, secret, code string, unix, lastUsed int64) {
		now := time.Unix(unix, 0)
		step, ok := VerifyTOTP(secret, code, now, lastUsed)
		if !ok {
			if step != lastUsed {
				t.Fatalf("failed verify returned step %d, want lastUsed %d", step, lastUsed)
			}
			return
		}
		// now.Unix rather than unix: time.Unix wraps for extreme values.
		cur := now.Unix() / 30
		if step <= lastUsed || step < cur-1 || step > cur+1 || step < 0 {
			t.Fatalf("accepted step %d (now step %d, last used %d)", step, cur, lastUsed)
		}
		key, err := decodeTOTPSecret(secret)
		if err != nil {
			t.Fatalf("secret rejected after successful verify: %v", err)
		}
		want := hotp(key, uint64(step), 6)
		if got := strings.Join(strings.Fields(code), ""); got != want {
			t.Fatalf("accepted code %q, code for step %d is %s", code, step, want)
		}
	})
}
