package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/ids"
	"github.com/gatehouse/gatehouse/internal/store"
)

func TestParseSMTPURL(t *testing.T) {
	ok := map[string]SMTPConfig{
		"smtp://mail.example.com": {Host: "mail.example.com", Port: 587, TLS: TLSStartTLS},
		"smtp://u%40x:p%3Aw@mail.example.com:2525?tls=starttls&auth=LOGIN&timeout=5s&helo=gh.example": {
			Host: "mail.example.com", Port: 2525, Username: "u@x", Password: "p:w", TLS: TLSStartTLS,
			Auth: "login", Timeout: 5 * time.Second, HELO: "gh.example"},
		"smtps://u:p@mail.example.com":             {Host: "mail.example.com", Port: 465, Username: "u", Password: "p", TLS: TLSImplicit},
		"smtp://mail.example.com:465?tls=implicit": {Host: "mail.example.com", Port: 465, TLS: TLSImplicit},
		"smtp://localhost:1025?tls=none":           {Host: "localhost", Port: 1025, TLS: TLSNone},
		"smtp://127.0.0.1:1025?tls=none":           {Host: "127.0.0.1", Port: 1025, TLS: TLSNone},
		"smtp://[::1]:1025?tls=none":               {Host: "::1", Port: 1025, TLS: TLSNone},
	}
	for raw, want := range ok {
		got, err := ParseSMTPURL(raw)
		if err != nil {
			t.Errorf("ParseSMTPURL(%q): %v", raw, err)
			continue
		}
		if got != want {
			t.Errorf("ParseSMTPURL(%q) = %+v, want %+v", raw, got, want)
		}
	}
	bad := []string{
		"",
		"http://mail.example.com",
		"smtp://",
		"smtp://mail.example.com:0",
		"smtp://mail.example.com:99999",
		"smtp://mail.example.com/path",
		"smtp://mail.example.com?tls=none",
		"smtp://10.0.0.1?tls=none",
		"smtp://mail.example.com?tls=maybe",
		"smtps://mail.example.com?tls=starttls",
		"smtp://mail.example.com?auth=cram-md5",
		"smtp://mail.example.com?timeout=-1s",
		"smtp://mail.example.com?password=x",
	}
	for _, raw := range bad {
		if _, err := ParseSMTPURL(raw); err == nil {
			t.Errorf("ParseSMTPURL(%q): no error", raw)
		}
	}
	// Errors never echo the password.
	if _, err := ParseSMTPURL("smtp://u:sekrit@mail.example.com:bad"); err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Errorf("error %v", err)
	}
	c, _ := ParseSMTPURL("smtp://u:sekrit@mail.example.com")
	if s := c.String(); strings.Contains(s, "sekrit") || s != "smtp://u@mail.example.com:587" {
		t.Errorf("String() = %q", s)
	}
}

func testEmail(to string) *store.Email {
	return &store.Email{
		ID:          ids.New("email"),
		FromName:    `Acme "Auth"`,
		FromAddress: "noreply@acme.example",
		To:          to,
		Subject:     "Your sign-in code for Acme — ünïcode",
		Text:        "Enter this code:\n\n    123456\n",
		HTML:        "<p>Enter this code: <b>123456</b></p>",
		Status:      StatusSending,
		CreatedAt:   store.Truncate(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)),
	}
}

func sender(t *testing.T, raw string, pool *x509.CertPool, timeout time.Duration) *SMTPSender {
	t.Helper()
	cfg, err := ParseSMTPURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	if pool != nil {
		cfg.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	cfg.Timeout = timeout
	s, err := NewSMTPSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSMTPDelivery(t *testing.T) {
	srv, _ := newTestSMTP(t, modePlain, "", "")
	s := sender(t, srv.URL("smtp", "", "", "tls=none"), nil, 5*time.Second)
	e := testEmail("ada@example.com")
	if err := s.Send(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	// A second send (a retry after a crash) is the same message.
	if err := s.Send(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	msgs := srv.messages()
	if len(msgs) != 2 {
		t.Fatalf("received %d messages", len(msgs))
	}
	m := msgs[0]
	if m.From != "noreply@acme.example" || len(m.To) != 1 || m.To[0] != "ada@example.com" {
		t.Errorf("envelope from %q to %q", m.From, m.To)
	}
	h := m.Msg.Header
	dec := new(mime.WordDecoder)
	subject, _ := dec.DecodeHeader(h.Get("Subject"))
	from, err := mail.ParseAddress(h.Get("From"))
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"Message-ID":     {h.Get("Message-ID"), "<" + e.ID + "@gatehouse>"},
		"Subject":        {subject, e.Subject},
		"From name":      {from.Name, `Acme "Auth"`},
		"From address":   {from.Address, "noreply@acme.example"},
		"To":             {h.Get("To"), "<ada@example.com>"},
		"Auto-Submitted": {h.Get("Auto-Submitted"), "auto-generated"},
		"MIME-Version":   {h.Get("MIME-Version"), "1.0"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	date, err := h.Date()
	if err != nil || !date.Equal(e.CreatedAt) {
		t.Errorf("Date = %v, %v; want %v", date, err, e.CreatedAt)
	}
	if msgs[1].Msg.Header.Get("Message-ID") != h.Get("Message-ID") || msgs[1].Msg.Header.Get("Date") != h.Get("Date") {
		t.Error("the resend has a different Message-ID or Date")
	}

	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v)", h.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Msg.Body, params["boundary"])
	var parts []string
	bodies := map[string]string{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		b, err := io.ReadAll(p) // multipart decodes quoted-printable
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, ct)
		bodies[ct] = string(b)
	}
	if strings.Join(parts, ",") != "text/plain,text/html" {
		t.Errorf("parts = %v, want text/plain then text/html", parts)
	}
	if strings.TrimSpace(strings.ReplaceAll(bodies["text/plain"], "\r\n", "\n")) != strings.TrimSpace(e.Text) || strings.TrimSpace(bodies["text/html"]) != e.HTML {
		t.Errorf("bodies = %q", bodies)
	}
}

func TestSMTPSTARTTLSAndAuth(t *testing.T) {
	srv, pool := newTestSMTP(t, modeSTARTTLS, "mailer", "s3cret pw")
	e := testEmail("ada@example.com")

	t.Run("ok", func(t *testing.T) {
		s := sender(t, srv.URL("smtp", "mailer", "s3cret%20pw", ""), pool, 5*time.Second)
		if err := s.Send(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		if n := len(srv.messages()); n != 1 {
			t.Fatalf("received %d", n)
		}
	})
	t.Run("plain auth named", func(t *testing.T) {
		s := sender(t, srv.URL("smtp", "mailer", "s3cret%20pw", "auth=plain"), pool, 5*time.Second)
		if err := s.Send(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		s := sender(t, srv.URL("smtp", "mailer", "nope", ""), pool, 5*time.Second)
		err := s.Send(t.Context(), e)
		if err == nil {
			t.Fatal("sent with a wrong password")
		}
		if errors.Is(err, ErrPermanent) {
			t.Errorf("auth failure is permanent: %v", err)
		}
		if strings.Contains(err.Error(), "nope") {
			t.Errorf("error shows the password: %v", err)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		s := sender(t, srv.URL("smtp", "", "", ""), pool, 5*time.Second)
		err := s.Send(t.Context(), e)
		if err == nil || errors.Is(err, ErrPermanent) {
			t.Fatalf("err = %v, want a temporary error", err)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		s := sender(t, srv.URL("smtp", "mailer", "s3cret%20pw", ""), nil, 5*time.Second)
		var ue x509.UnknownAuthorityError
		if err := s.Send(t.Context(), e); !errors.As(err, &ue) {
			t.Fatalf("err = %v, want an unknown-authority error", err)
		}
	})
}

// STARTTLS is required: a server that does not offer it gets nothing.
func TestSMTPSTARTTLSRequired(t *testing.T) {
	srv, _ := newTestSMTP(t, modePlain, "", "")
	s := sender(t, srv.URL("smtp", "", "", ""), nil, 5*time.Second)
	if err := s.Send(t.Context(), testEmail("ada@example.com")); err == nil {
		t.Fatal("sent without STARTTLS")
	}
	if n := len(srv.messages()); n != 0 {
		t.Fatalf("received %d", n)
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	srv, pool := newTestSMTP(t, modeImplicit, "mailer", "pw")
	s := sender(t, srv.URL("smtps", "mailer", "pw", ""), pool, 5*time.Second)
	if err := s.Send(t.Context(), testEmail("ada@example.com")); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.messages()); n != 1 {
		t.Fatalf("received %d", n)
	}
}

func TestSMTPErrorClasses(t *testing.T) {
	srv, _ := newTestSMTP(t, modePlain, "", "")
	s := sender(t, srv.URL("smtp", "", "", "tls=none"), nil, 5*time.Second)
	for _, tc := range []struct {
		at        string
		code      int
		permanent bool
	}{
		{"rcpt", 550, true},
		{"rcpt", 450, false},
		{"data", 554, true},
		{"data", 451, false},
	} {
		t.Run(tc.at+"_"+strconv.Itoa(tc.code), func(t *testing.T) {
			srv.refuse(tc.at, tc.code, 1)
			err := s.Send(t.Context(), testEmail("ada@example.com"))
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, ErrPermanent); got != tc.permanent {
				t.Errorf("permanent = %v, want %v (%v)", got, tc.permanent, err)
			}
			if !strings.Contains(err.Error(), strconv.Itoa(tc.code)) || strings.Contains(err.Error(), "ada@example.com") {
				t.Errorf("error %q: want the reply code and not the recipient", err)
			}
		})
	}
	t.Run("bad recipient address", func(t *testing.T) {
		err := s.Send(t.Context(), testEmail("not an address"))
		if !errors.Is(err, ErrPermanent) {
			t.Errorf("err = %v, want permanent", err)
		}
	})
	if n := len(srv.messages()); n != 0 {
		t.Errorf("received %d", n)
	}
}

// A server that hangs in DATA is abandoned after the timeout, or when ctx
// ends, and the failure is temporary.
func TestSMTPHang(t *testing.T) {
	srv, _ := newTestSMTP(t, modePlain, "", "")
	srv.hang = make(chan struct{})
	t.Cleanup(func() { close(srv.hang) })

	t.Run("timeout", func(t *testing.T) {
		s := sender(t, srv.URL("smtp", "", "", "tls=none"), nil, 300*time.Millisecond)
		start := time.Now()
		err := s.Send(t.Context(), testEmail("ada@example.com"))
		if err == nil || errors.Is(err, ErrPermanent) {
			t.Fatalf("err = %v, want temporary", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("context", func(t *testing.T) {
		s := sender(t, srv.URL("smtp", "", "", "tls=none"), nil, time.Minute)
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := s.Send(ctx, testEmail("ada@example.com"))
		if err == nil || errors.Is(err, ErrPermanent) {
			t.Fatalf("err = %v, want temporary", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	})
}
