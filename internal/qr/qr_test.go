package qr

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Every length a version 1-10 code holds decodes back with a real reader
// (zbarimg from Debian's zbar-tools, which scripts/test installs).
func TestRoundTripWithZbar(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("VERBUND_REQUIRE_BROWSER") == "1" {
			t.Fatal("zbarimg missing: scripts/test installs zbar-tools")
		}
		t.Skip("zbarimg not installed")
	}
	dir := t.TempDir()
	for _, n := range []int{1, 14, 15, 16, 26, 27, 42, 43, 62, 63, 84, 85, 106, 107, 122, 123, 152, 153, 180, 181, 213} {
		text := strings.Repeat("otpauth://totp/x?secret=ABC&", 10)[:n]
		c, err := Encode([]byte(text))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		file := filepath.Join(dir, "q.png")
		writePNG(t, c, file)
		out, err := exec.Command(zbar, "-q", "--raw", file).Output() // #nosec G204 -- fixed tool, test file
		if err != nil {
			t.Fatalf("%d bytes (version size %d): zbarimg cannot read it: %v", n, c.Size, err)
		}
		if got := strings.TrimSuffix(string(out), "\n"); got != text {
			t.Fatalf("%d bytes: decoded %q", n, got)
		}
	}
	if _, err := Encode(bytes.Repeat([]byte("a"), 214)); err != ErrTooLong {
		t.Fatalf("214 bytes: %v, want ErrTooLong", err)
	}
}

func writePNG(t *testing.T, c *Code, file string) {
	const s = 4
	img := image.NewGray(image.Rect(0, 0, (c.Size+8)*s, (c.Size+8)*s))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for y := range c.Size {
		for x := range c.Size {
			if c.Dark(x, y) {
				for d := range s * s {
					img.Set((x+4)*s+d%s, (y+4)*s+d/s, color.Gray{})
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Reed-Solomon against the standard's worked example (ISO/IEC 18004 annex
// I: "01234567" at 1-M): data and error correction codewords.
func TestReedSolomonExample(t *testing.T) {
	data := []byte{0x10, 0x20, 0x0C, 0x56, 0x61, 0x80, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11}
	want := []byte{0xA5, 0x24, 0xD4, 0xC1, 0xED, 0x36, 0xC7, 0x87, 0x2C, 0x55}
	if got := rsRemainder(data, rsDivisor(10)); !bytes.Equal(got, want) {
		t.Fatalf("ecc % X, want % X", got, want)
	}
}

func TestSVGHasOnlyFixedMarkup(t *testing.T) {
	c, err := Encode([]byte(`"><script>alert(1)</script>`))
	if err != nil {
		t.Fatal(err)
	}
	svg := c.SVG(4)
	if strings.Contains(svg, "script") || !strings.HasPrefix(svg, "<svg") {
		t.Fatalf("svg leaks input: %.80s", svg)
	}
}
