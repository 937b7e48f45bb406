package main

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// sink is a trivial SMTP server on loopback that accepts every message
// (no TLS, no authentication) and hands each verification code to the
// virtual user waiting for that address, so the servers' email sending
// costs what it really costs.
type sink struct {
	srv  *smtp.Server
	addr string

	mu      sync.Mutex
	waiting map[string]chan string // address → the code, once it arrives

	received, unclaimed atomic.Int64
}

func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	k := &sink{addr: ln.Addr().String(), waiting: map[string]chan string{}}
	k.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{k: k}, nil }))
	k.srv.Domain = "localhost"
	k.srv.ReadTimeout = 30 * time.Second
	k.srv.WriteTimeout = 30 * time.Second
	k.srv.MaxMessageBytes = 1 << 20
	go k.srv.Serve(ln)
	return k, nil
}

func (k *sink) Close() { k.srv.Close() }

// smtpURL is the GATEHOUSE_SMTP_URL that reaches the sink.
func (k *sink) smtpURL() string { return "smtp://" + k.addr + "?tls=none" }

// expect registers interest in the next code sent to address; call it
// before the request that sends the email.
func (k *sink) expect(address string) chan string {
	ch := make(chan string, 1)
	k.mu.Lock()
	k.waiting[strings.ToLower(address)] = ch
	k.mu.Unlock()
	return ch
}

func (k *sink) forget(address string) {
	k.mu.Lock()
	delete(k.waiting, strings.ToLower(address))
	k.mu.Unlock()
}

func (k *sink) deliver(to []string, data []byte) {
	k.received.Add(1)
	code := extractCode(data)
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, a := range to {
		if ch, ok := k.waiting[strings.ToLower(a)]; ok && code != "" {
			select {
			case ch <- code:
			default:
			}
			return
		}
	}
	k.unclaimed.Add(1)
}

type sinkSession struct {
	k  *sink
	to []string
}

func (s *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.k.deliver(s.to, b)
	return nil
}
func (s *sinkSession) Reset()        { s.to = nil }
func (s *sinkSession) Logout() error { return nil }

var sixDigits = regexp.MustCompile(`(?m)^\s+(\d{6})\s*$`)

// extractCode finds the 6-digit code on its own indented line in the
// text part of a message (decoding MIME and quoted-printable as needed).
func extractCode(raw []byte) string {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return firstCode(raw)
	}
	body, _ := io.ReadAll(msg.Body)
	if c := textOf(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), body); c != "" {
		return c
	}
	return firstCode(raw)
}

func textOf(ctype, cte string, body []byte) string {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return ""
			}
			b, _ := io.ReadAll(p)
			if c := textOf(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), b); c != "" {
				return c
			}
		}
	}
	if mt != "text/plain" {
		return ""
	}
	if strings.EqualFold(cte, "quoted-printable") {
		if b, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body))); err == nil {
			body = b
		}
	}
	return firstCode(body)
}

func firstCode(b []byte) string {
	if m := sixDigits.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}
