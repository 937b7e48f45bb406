package mail

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseSMTPURL: never panics; an accepted URL gives a configuration
// that validates, whose description names the same server without the
// password and parses back to the same host, port and TLS mode; no error
// or description ever holds the password.
func FuzzParseSMTPURL(f *testing.F) {
	for _, s := range []string{"smtp://user:s3cret-pass@smtp.example.com:587", "smtps://u:p%40ss@mail.example.com", "smtp://localhost:1025?tls=none",
		"smtp://127.0.0.1:1?tls=none", "smtp://mail.example.com?tls=none", "smtp://h:0", "smtp://h:99999", "smtp://h:587/path",
		"smtp://h?auth=cram-md5", "smtp://h?timeout=-1s", "smtp://h?x=1", "smtps://h?tls=starttls", "http://h", "smtp://", "smtp://[::1]:25?tls=none",
		"smtp://u:pw@h:587?helo=a%0d%0aMAIL", "smtp://u:%zz@h", "smtp://h:587?tls=implicit&auth=LOGIN&timeout=5s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		// What a description or an error may show: the scheme, the user
		// name (plain and escaped), the host and port, and the TLS mode. A
		// password found inside one of those proves nothing.
		password := ""
		public := []string{"smtp://smtps://localhost", "?tls=none"}
		if u, err := url.Parse(raw); err == nil && u.User != nil {
			password, _ = u.User.Password()
			name := u.User.Username()
			public = append(public, name, url.User(name).String(), u.Host)
		}
		secret := func(public []string) bool {
			if len(password) < 4 {
				return false
			}
			for _, p := range public {
				if strings.Contains(p, password) {
					return false
				}
			}
			return true
		}
		c, err := ParseSMTPURL(raw)
		if err != nil {
			if secret(public) && strings.Contains(err.Error(), password) {
				t.Fatalf("ParseSMTPURL(%q): the error %q holds the password", raw, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseSMTPURL(%q) = %+v, which does not validate: %v", raw, c, err)
		}
		desc := c.String()
		public = append(public, net.JoinHostPort(c.Host, strconv.Itoa(c.Port)))
		if secret(public) && strings.Contains(desc, password) {
			t.Fatalf("ParseSMTPURL(%q).String() = %q holds the password", raw, desc)
		}
		back, err := ParseSMTPURL(desc)
		if err != nil || back.Host != c.Host || back.Port != c.Port || back.TLS != c.TLS {
			t.Fatalf("ParseSMTPURL(%q) = %+v, described as %q, which parses to %+v, %v", raw, c, desc, back, err)
		}
	})
}
