package mail

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/mail"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testSMTP is a real SMTP server on 127.0.0.1 that records what it accepts.
// Its behaviour can be changed while it runs: refuse the next messages with
// a reply code, delay or hang in DATA.
type testSMTP struct {
	t    *testing.T
	Host string
	Port int

	user, pass string // required credentials, or "" for no AUTH

	mu       sync.Mutex
	received []received
	refusals []refusal     // consumed one per message, in order
	delay    time.Duration // sleep in DATA before accepting
	hang     chan struct{} // if set, DATA waits on it
	inData   chan string   // if set, gets the Message-ID of each message entering DATA
}

type received struct {
	From string
	To   []string
	Data []byte
	Msg  *mail.Message
}

// refusal is a reply the server gives instead of accepting: at "rcpt" or
// "data".
type refusal struct {
	at   string
	code int
}

type smtpMode int

const (
	modePlain    smtpMode = iota // no TLS
	modeSTARTTLS                 // STARTTLS offered
	modeImplicit                 // TLS from the first byte
)

// newTestSMTP starts a server; with mode != modePlain it presents a
// self-signed certificate for 127.0.0.1, trusted by the returned pool.
func newTestSMTP(t *testing.T, mode smtpMode, user, pass string) (*testSMTP, *x509.CertPool) {
	t.Helper()
	ts := &testSMTP{t: t, user: user, pass: pass}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &testSession{srv: ts}, nil
	}))
	s.Domain = "localhost"
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	s.AllowInsecureAuth = mode == modePlain
	s.ErrorLog = smtpLog{t}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var pool *x509.CertPool
	if mode != modePlain {
		var cert tls.Certificate
		cert, pool = selfSigned(t)
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		if mode == modeImplicit {
			ln = tls.NewListener(ln, s.TLSConfig)
		}
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	addr := ln.Addr().(*net.TCPAddr)
	ts.Host, ts.Port = "127.0.0.1", addr.Port
	return ts, pool
}

// URL is an smtp URL for the server, with the given credentials and query.
func (ts *testSMTP) URL(scheme, user, pass, query string) string {
	u := scheme + "://"
	if user != "" {
		u += user + ":" + pass + "@"
	}
	u += net.JoinHostPort(ts.Host, strconv.Itoa(ts.Port))
	if query != "" {
		u += "?" + query
	}
	return u
}

func (ts *testSMTP) refuse(at string, code int, n int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for range n {
		ts.refusals = append(ts.refusals, refusal{at, code})
	}
}

func (ts *testSMTP) setDelay(d time.Duration) {
	ts.mu.Lock()
	ts.delay = d
	ts.mu.Unlock()
}

func (ts *testSMTP) messages() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.received...)
}

// messageIDs counts the accepted messages by Message-ID.
func (ts *testSMTP) messageIDs() map[string]int {
	out := map[string]int{}
	for _, m := range ts.messages() {
		out[m.Msg.Header.Get("Message-ID")]++
	}
	return out
}

func (ts *testSMTP) nextRefusal(at string) error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.refusals) == 0 || ts.refusals[0].at != at {
		return nil
	}
	r := ts.refusals[0]
	ts.refusals = ts.refusals[1:]
	enh := smtp.EnhancedCode{r.code / 100, 0, 0}
	return &smtp.SMTPError{Code: r.code, EnhancedCode: enh, Message: "refused by test (" + strconv.Itoa(r.code) + ")"}
}

type testSession struct {
	srv    *testSMTP
	authed bool
	from   string
	to     []string
}

func (s *testSession) AuthMechanisms() []string {
	if s.srv.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.srv.user || password != s.srv.pass {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.srv.nextRefusal("rcpt"); err != nil {
		return err
	}
	s.to = append(s.to, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "unparseable message: " + err.Error()}
	}
	s.srv.mu.Lock()
	delay, hang, inData := s.srv.delay, s.srv.hang, s.srv.inData
	s.srv.mu.Unlock()
	if inData != nil {
		inData <- msg.Header.Get("Message-ID")
	}
	if hang != nil {
		<-hang
		return &smtp.SMTPError{Code: 421, Message: "gave up"}
	}
	time.Sleep(delay)
	if err := s.srv.nextRefusal("data"); err != nil {
		return err
	}
	s.srv.mu.Lock()
	s.srv.received = append(s.srv.received, received{From: s.from, To: s.to, Data: data, Msg: msg})
	s.srv.mu.Unlock()
	return nil
}

func (s *testSession) Reset()        { s.from, s.to = "", nil }
func (s *testSession) Logout() error { return nil }

type smtpLog struct{ t *testing.T }

func (l smtpLog) Printf(format string, v ...any) { l.t.Logf("smtp server: "+format, v...) }
func (l smtpLog) Println(v ...any)               { l.t.Log(append([]any{"smtp server:"}, v...)...) }

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool
// that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gatehouse test smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}
