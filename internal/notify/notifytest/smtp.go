package notifytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// MailServer is a real SMTP server on loopback in the test process
// (github.com/emersion/go-smtp): the hub's mails arrive there as they
// would at any mail server. It can be taken down and brought back on the
// same address.
type MailServer struct {
	Addr string

	t    testing.TB
	tls  *tls.Config
	mu   sync.Mutex
	srv  *smtp.Server
	got  []Mail
	wait chan struct{}
	// slow delays every DATA, in nanoseconds (SetSlow: mails are in
	// flight when a test kills the hub).
	slow atomic.Int64
}

// Mail is one received mail, decoded.
type Mail struct {
	From      string
	To        []string
	Subject   string
	MessageID string
	Lang      string // Content-Language
	Text      string // the text/plain part
	HTML      string // the text/html part
	Raw       []byte
}

// StartMailServer listens on 127.0.0.1 at a free port.
func StartMailServer(t testing.TB) *MailServer { return start(t, nil) }

// StartTLSMailServer is StartMailServer offering STARTTLS with a
// self-signed certificate (one no client trusts).
func StartTLSMailServer(t testing.TB) *MailServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return start(t, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12})
}

func start(t testing.TB, tc *tls.Config) *MailServer {
	t.Helper()
	m := &MailServer{t: t, wait: make(chan struct{}, 1), tls: tc}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mail server: %v", err)
	}
	m.Addr = ln.Addr().String()
	m.serve(ln)
	t.Cleanup(m.Stop)
	return m
}

func (m *MailServer) serve(ln net.Listener) {
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{m: m}, nil }))
	s.Domain = "localhost"
	s.TLSConfig = m.tls
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.MaxMessageBytes = 1 << 20
	s.ErrorLog = log.New(io.Discard, "", 0)
	m.mu.Lock()
	m.srv = s
	m.mu.Unlock()
	go func() { _ = s.Serve(ln) }()
}

// SetSlow makes the server wait d before it answers each mail (a mail
// in flight for that long). It may be set while the server runs: its
// sessions read it without a lock the test would have to share.
func (m *MailServer) SetSlow(d time.Duration) { m.slow.Store(int64(d)) }

// Stop takes the server down: nothing listens at Addr any more.
func (m *MailServer) Stop() {
	m.mu.Lock()
	s := m.srv
	m.srv = nil
	m.mu.Unlock()
	if s != nil {
		_ = s.Close()
	}
}

// Start brings a stopped server back on the same address.
func (m *MailServer) Start() {
	m.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", m.Addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		m.t.Fatalf("mail server back on %s: %v", m.Addr, err)
	}
	m.serve(ln)
}

// Mails returns what arrived so far.
func (m *MailServer) Mails() []Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Mail(nil), m.got...)
}

// To returns what arrived for address.
func (m *MailServer) To(address string) []Mail {
	var out []Mail
	for _, x := range m.Mails() {
		for _, to := range x.To {
			if strings.EqualFold(to, address) {
				out = append(out, x)
			}
		}
	}
	return out
}

// Wait waits until at least n mails arrived and returns them.
func (m *MailServer) Wait(t testing.TB, n int, within time.Duration) []Mail {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if got := m.Mails(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails arrived within %v, want %d", len(m.Mails()), within, n)
		}
		select {
		case <-m.wait:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type session struct {
	m    *MailServer
	from string
	to   []string
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if d := time.Duration(s.m.slow.Load()); d > 0 {
		time.Sleep(d)
	}
	got, err := decode(raw)
	if err != nil {
		s.m.t.Errorf("a mail that does not parse: %v\n%s", err, raw)
		return &smtp.SMTPError{Code: 554, Message: "unreadable"}
	}
	got.From, got.To = s.from, s.to
	s.m.mu.Lock()
	s.m.got = append(s.m.got, got)
	s.m.mu.Unlock()
	select {
	case s.m.wait <- struct{}{}:
	default:
	}
	return nil
}

// decode reads a mail's headers and its text and HTML parts.
func decode(raw []byte) (Mail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Mail{}, err
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return Mail{}, err
	}
	out := Mail{Subject: subject, MessageID: msg.Header.Get("Message-Id"), Lang: msg.Header.Get("Content-Language"), Raw: raw}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return Mail{}, err
	}
	if !strings.HasPrefix(mt, "multipart/") {
		return Mail{}, errors.New("not multipart: " + mt)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Mail{}, err
		}
		var body io.Reader = p
		switch strings.ToLower(p.Header.Get("Content-Transfer-Encoding")) {
		case "quoted-printable":
			body = quotedprintable.NewReader(p)
		case "base64":
			body = base64Reader(p)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			return Mail{}, err
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch pt {
		case "text/plain":
			out.Text = string(b)
		case "text/html":
			out.HTML = string(b)
		}
	}
	return out, nil
}

// base64Reader decodes a base64 body whose lines are broken.
func base64Reader(r io.Reader) io.Reader {
	return base64.NewDecoder(base64.StdEncoding, &lineStripper{r: r})
}

// lineStripper drops CR and LF.
type lineStripper struct{ r io.Reader }

func (l *lineStripper) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' {
			p[j] = c
			j++
		}
	}
	return j, err
}
