package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/gatehouse/gatehouse/internal/store"
)

// TLS modes of an SMTP connection.
const (
	TLSStartTLS = "starttls" // plain connect, then STARTTLS, which is required
	TLSImplicit = "implicit" // TLS from the first byte (smtps, usually port 465)
	TLSNone     = "none"     // no TLS at all; only to a loopback host
)

// DefaultSMTPTimeout bounds connecting and each SMTP command.
const DefaultSMTPTimeout = 30 * time.Second

// SMTPConfig says how to reach an SMTP relay. Build one with ParseSMTPURL,
// then set TLSConfig or Timeout if needed.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string // "" for no authentication
	Password string
	TLS      string // TLSStartTLS, TLSImplicit or TLSNone
	// Auth is the SASL mechanism: "plain", "login" or "" to prefer PLAIN
	// and fall back to LOGIN (whichever the server offers).
	Auth    string
	Timeout time.Duration // 0 for DefaultSMTPTimeout
	HELO    string        // the name sent in EHLO; "" for "localhost"
	// TLSConfig overrides the TLS settings (tests set RootCAs). Its
	// ServerName defaults to Host.
	TLSConfig *tls.Config
}

// ParseSMTPURL reads an SMTP relay URL:
//
//	smtp://user:pass@host:587?tls=starttls   STARTTLS, required (the default for smtp://)
//	smtps://user:pass@host:465               TLS from the first byte
//	smtp://localhost:1025?tls=none           no TLS; only for a loopback host
//
// User and password are optional and percent-encoded. Other query
// parameters: auth=plain|login, timeout=30s, helo=name. The default port is
// 587 for smtp and 465 for smtps.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return SMTPConfig{}, errors.New("mail: smtp url: cannot parse") // the error would echo the password
	}
	var c SMTPConfig
	switch u.Scheme {
	case "smtp":
		c.TLS, c.Port = TLSStartTLS, 587
	case "smtps":
		c.TLS, c.Port = TLSImplicit, 465
	default:
		return SMTPConfig{}, fmt.Errorf("mail: smtp url: scheme must be smtp or smtps, not %q", u.Scheme)
	}
	c.Host = u.Hostname()
	if c.Host == "" || (strings.Contains(c.Host, ":") && net.ParseIP(c.Host) == nil) {
		return SMTPConfig{}, errors.New("mail: smtp url: no valid host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTPConfig{}, fmt.Errorf("mail: smtp url: bad port %q", p)
		}
		c.Port = n
	}
	if u.Path != "" && u.Path != "/" {
		return SMTPConfig{}, errors.New("mail: smtp url: unexpected path")
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "tls", "auth", "timeout", "helo":
		default:
			return SMTPConfig{}, fmt.Errorf("mail: smtp url: unknown parameter %q", k)
		}
	}
	switch t := q.Get("tls"); t {
	case "":
	case TLSStartTLS, TLSNone:
		if u.Scheme == "smtps" {
			return SMTPConfig{}, fmt.Errorf("mail: smtp url: smtps is always implicit TLS; tls=%s needs smtp://", t)
		}
		c.TLS = t
	case TLSImplicit:
		c.TLS = TLSImplicit
	default:
		return SMTPConfig{}, fmt.Errorf("mail: smtp url: tls must be starttls, implicit or none, not %q", t)
	}
	c.Auth = strings.ToLower(q.Get("auth"))
	if t := q.Get("timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			return SMTPConfig{}, fmt.Errorf("mail: smtp url: bad timeout %q", t)
		}
		c.Timeout = d
	}
	c.HELO = q.Get("helo")
	if err := c.Validate(); err != nil {
		return SMTPConfig{}, err
	}
	return c, nil
}

// Validate reports the first problem with c.
func (c SMTPConfig) Validate() error {
	if c.Host == "" || c.Port < 1 || c.Port > 65535 {
		return errors.New("mail: smtp: host and port are required")
	}
	switch c.TLS {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if !isLoopback(c.Host) {
			return fmt.Errorf("mail: smtp: tls=none is allowed only for localhost, not %q", c.Host)
		}
	default:
		return fmt.Errorf("mail: smtp: unknown TLS mode %q", c.TLS)
	}
	switch c.Auth {
	case "", "plain", "login":
	default:
		return fmt.Errorf("mail: smtp: auth must be plain or login, not %q", c.Auth)
	}
	return nil
}

// String describes c without its password, for logs.
func (c SMTPConfig) String() string {
	scheme := "smtp"
	if c.TLS == TLSImplicit {
		scheme = "smtps"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port))}
	if c.Username != "" {
		u.User = url.User(c.Username)
	}
	if c.TLS == TLSNone {
		u.RawQuery = "tls=none"
	}
	return u.String()
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SMTPSender delivers email through an SMTP relay, one connection per
// message. It is safe for concurrent use.
type SMTPSender struct {
	cfg SMTPConfig
}

var _ Sender = (*SMTPSender)(nil)

// NewSMTPSender returns a sender for cfg.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultSMTPTimeout
	}
	if cfg.HELO == "" {
		cfg.HELO = "localhost"
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Host
	}
	cfg.TLSConfig = tc
	return &SMTPSender{cfg: cfg}, nil
}

// Send delivers e. Cancelling ctx aborts the connection. A 5xx reply to
// RCPT TO or to the message data, or an address that cannot be parsed,
// returns an error wrapping ErrPermanent. Everything else is temporary:
// 4xx replies, network errors, and failures to connect, negotiate TLS,
// authenticate or be accepted at MAIL FROM (configuration the operator can
// fix while the email waits).
func (s *SMTPSender) Send(ctx context.Context, e *store.Email) error {
	msg, err := buildMsg(e)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPermanent, err)
	}
	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	client, err := s.client(ctx, &stop)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	conn, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return fmt.Errorf("smtp: connect to %s:%d: %w", s.cfg.Host, s.cfg.Port, err)
	}
	err = client.SendWithSMTPClient(conn, msg)
	client.CloseWithSMTPClient(conn) // the message is in, or not, whatever QUIT says
	if err == nil || msg.IsDelivered() {
		// IsDelivered: the server accepted the data; a later RSET failure
		// does not undo that.
		return nil
	}
	err = &sendError{err: err}
	if permanent(err) {
		return fmt.Errorf("%w: smtp: %w", ErrPermanent, err)
	}
	return fmt.Errorf("smtp: %w", err)
}

// sendError is a go-mail delivery error without the recipient list go-mail
// appends to its text, so logs and the outbox's LastError keep the SMTP
// reply but not the address.
type sendError struct{ err error }

func (e *sendError) Error() string {
	msg, _, _ := strings.Cut(e.err.Error(), ", affected recipient(s)")
	return msg
}

func (e *sendError) Unwrap() error { return e.err }

// client returns a go-mail client whose connection closes when ctx ends.
func (s *SMTPSender) client(ctx context.Context, stop *func() bool) (*gomail.Client, error) {
	c := s.cfg
	opts := []gomail.Option{
		gomail.WithPort(c.Port),
		gomail.WithTimeout(c.Timeout),
		gomail.WithHELO(c.HELO),
		gomail.WithTLSConfig(c.TLSConfig),
		gomail.WithDialContextFunc(s.dial(ctx, stop)),
	}
	switch c.TLS {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if c.Username != "" {
		plain, login := gomail.SMTPAuthPlain, gomail.SMTPAuthLogin
		if c.TLS == TLSNone { // loopback only (Validate)
			plain, login = gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc
		}
		switch c.Auth {
		case "plain":
			opts = append(opts, gomail.WithSMTPAuth(plain))
		case "login":
			opts = append(opts, gomail.WithSMTPAuth(login))
		default:
			opts = append(opts, gomail.WithOpportunisticSMTPAuth(plain, login))
		}
		opts = append(opts, gomail.WithUsername(c.Username), gomail.WithPassword(c.Password))
	}
	return gomail.NewClient(c.Host, opts...)
}

// dial connects (with TLS for TLSImplicit) and ties the connection to ctx:
// when ctx ends the socket is closed, so a hung server cannot hold a send
// past its deadline. It stores in *stop the function that unties them.
func (s *SMTPSender) dial(ctx context.Context, stop *func() bool) gomail.DialContextFunc {
	return func(dctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: s.cfg.Timeout}
		raw, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		*stop = context.AfterFunc(ctx, func() { raw.Close() })
		if s.cfg.TLS != TLSImplicit {
			return raw, nil
		}
		tc := tls.Client(raw, s.cfg.TLSConfig)
		if err := tc.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, err
		}
		return tc, nil
	}
}

// buildMsg turns an outbox email into a MIME message: multipart/alternative
// text and HTML, a Message-ID derived from the email's ID, and the Date it
// was queued, so a resend is byte-for-byte the same message.
func buildMsg(e *store.Email) (*gomail.Msg, error) {
	to, err := mail.ParseAddress(e.To)
	if err != nil {
		return nil, fmt.Errorf("recipient address: %v", err)
	}
	from, err := mail.ParseAddress(e.FromAddress)
	if err != nil {
		return nil, fmt.Errorf("sender address: %v", err)
	}
	from.Name = oneLine(e.FromName)
	to.Name = ""
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	m.FromMailAddress(from)
	m.SetAddrHeaderFromMailAddress(gomail.HeaderTo, to)
	m.Subject(oneLine(e.Subject))
	m.SetMessageIDWithValue(MessageID(e.ID))
	m.SetDateWithValue(e.CreatedAt)
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetUserAgent("Gatehouse")
	switch {
	case e.Text != "" && e.HTML != "":
		m.SetBodyString(gomail.TypeTextPlain, e.Text)
		m.AddAlternativeString(gomail.TypeTextHTML, e.HTML)
	case e.HTML != "":
		m.SetBodyString(gomail.TypeTextHTML, e.HTML)
	default:
		m.SetBodyString(gomail.TypeTextPlain, e.Text)
	}
	return m, nil
}

// MessageID returns the Message-ID (without angle brackets) of the email
// with the given outbox ID.
func MessageID(emailID string) string { return emailID + "@gatehouse" }

// permanent reports whether a go-mail send error is a 5xx reply to RCPT TO
// or to the message data: this recipient or this message will never be
// accepted. A 5xx to MAIL FROM (the sender address, relaying, missing
// authentication) is the operator's configuration, which can be fixed, so
// it is retried like any other failure.
func permanent(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Reason {
	case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
	default:
		return false
	}
	code := se.ErrorCode()
	return code >= 500 && code < 600 && code != 530 && code != 535
}
