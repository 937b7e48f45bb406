package faults

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// gatehouseBin is the `gatehouse` binary built for this run by TestMain.
var gatehouseBin string

const (
	callback     = "http://localhost:3000/callback"
	signOutURL   = "http://localhost:3000/"
	signInURL    = "http://localhost:3000/login"
	userPassword = "correct horse battery staple"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-faults-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults: temp dir:", err)
		os.Exit(1)
	}
	gatehouseBin = filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-o", gatehouseBin, "github.com/gatehouse/gatehouse/cmd/gatehouse")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "faults: go build ./cmd/gatehouse: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// baseEnv is this process's environment without any GATEHOUSE_ variable,
// so a developer's settings cannot leak into the servers under test.
func baseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			out = append(out, kv)
		}
	}
	return out
}

// runCLI runs a gatehouse admin command against dbURL and returns its stdout.
func runCLI(dbURL, secretKey string, args ...string) (string, error) {
	cmd := exec.Command(gatehouseBin, args...)
	cmd.Env = append(baseEnv(), "GATEHOUSE_DATABASE_URL="+dbURL, "GATEHOUSE_SECRET_KEY="+secretKey)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("gatehouse %s: %w", strings.Join(args, " "), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return "", fmt.Errorf("gatehouse %s: %w\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		return "", fmt.Errorf("gatehouse %s did not finish within 60s", strings.Join(args, " "))
	}
	return stdout.String(), nil
}

// cli is runCLI that fails the test on error.
func cli(t testing.TB, dbURL, secretKey string, args ...string) string {
	t.Helper()
	out, err := runCLI(dbURL, secretKey, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// app is one environment made with the admin CLI, as an operator would.
type app struct {
	EnvID    string
	ClientID string
	APIKey   string
}

var (
	envIDRE    = regexp.MustCompile(`(?m)^\s*id\s+(environment_\w+)`)
	clientIDRE = regexp.MustCompile(`(?m)^\s*client id\s+(client_\w+)`)
	apiKeyRE   = regexp.MustCompile(`(?m)^\s+(sk_[A-Za-z0-9_-]+)\s*$`)
)

// newApp creates a development environment with an API key, the app's
// redirect URI, sign-out redirect and sign-in endpoint, all through the CLI.
func newApp(dbURL, secretKey, name string) (app, error) {
	var a app
	out, err := runCLI(dbURL, secretKey, "environments", "create", "--name", name, "--type", "development")
	if err != nil {
		return a, err
	}
	if m := envIDRE.FindStringSubmatch(out); m != nil {
		a.EnvID = m[1]
	}
	if m := clientIDRE.FindStringSubmatch(out); m != nil {
		a.ClientID = m[1]
	}
	if a.EnvID == "" || a.ClientID == "" {
		return a, fmt.Errorf("environments create printed no id or client id:\n%s", out)
	}
	if out, err = runCLI(dbURL, secretKey, "api-keys", "create", "--env", a.EnvID, "--name", "faults"); err != nil {
		return a, err
	}
	m := apiKeyRE.FindStringSubmatch(out)
	if m == nil {
		return a, fmt.Errorf("api-keys create printed no key:\n%s", out)
	}
	a.APIKey = m[1]
	for _, args := range [][]string{
		{"redirect-uris", "add", callback, "--default"},
		{"sign-out-redirects", "add", signOutURL, "--default"},
		{"sign-in-endpoint", "set", signInURL},
	} {
		if _, err := runCLI(dbURL, secretKey, append(args, "--env", a.EnvID)...); err != nil {
			return a, err
		}
	}
	return a, nil
}

// setupApps makes one app per name, concurrently.
func setupApps(t testing.TB, dbURL, secretKey string, names ...string) []app {
	t.Helper()
	apps := make([]app, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { apps[i], errs[i] = newApp(dbURL, secretKey, name) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return apps
}

// setupApp makes one app.
func setupApp(t testing.TB, dbURL, secretKey, name string) app {
	t.Helper()
	return setupApps(t, dbURL, secretKey, name)[0]
}

// serveConfig configures one `gatehouse serve` process.
type serveConfig struct {
	DatabaseURL string
	SecretKey   string
	SMTPURL     string
	PublicURL   string // "" for the node's own http://127.0.0.1:port
}

// node is one running `gatehouse serve` process.
type node struct {
	t       testing.TB
	Name    string
	URL     string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

// startServe starts `gatehouse serve` on a free loopback port and waits
// until /healthz answers.
func startServe(t testing.TB, name string, c serveConfig) *node {
	t.Helper()
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	public := c.PublicURL
	if public == "" {
		public = url
	}
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gatehouseBin, "serve")
	cmd.Env = append(baseEnv(),
		"GATEHOUSE_DATABASE_URL="+c.DatabaseURL,
		"GATEHOUSE_SECRET_KEY="+c.SecretKey,
		"GATEHOUSE_PUBLIC_URL="+public,
		"GATEHOUSE_SMTP_URL="+c.SMTPURL,
		"GATEHOUSE_MAIL_FROM=auth@example.com",
		fmt.Sprintf("GATEHOUSE_ADDR=127.0.0.1:%d", port),
		"GATEHOUSE_LOG_FORMAT=json",
		"GATEHOUSE_SHUTDOWN_TIMEOUT=15s",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	n := &node{t: t, Name: name, URL: url, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		n.waitErr = cmd.Wait()
		logFile.Close()
		close(n.exited)
	}()
	t.Cleanup(n.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(url + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return n
			}
		}
		select {
		case <-n.exited:
			t.Fatalf("%s exited while starting: %v\n%s", name, n.waitErr, n.logTail(40))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer /healthz within 30s\n%s", name, n.logTail(40))
		}
	}
}

// alive reports whether the process is still running.
func (n *node) alive() bool {
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to go.
func (n *node) kill() {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil && n.alive() {
		n.t.Fatalf("kill -9 %s: %v", n.Name, err)
	}
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		n.t.Fatalf("%s still running 10s after SIGKILL", n.Name)
	}
}

// stop ends the process gracefully (SIGTERM), killing it if it lingers.
func (n *node) stop() {
	if !n.alive() {
		return
	}
	// Go's http.Server.Shutdown waits up to 5 s for connections that were
	// dialled but never used; let the clients close theirs first.
	apiClient.CloseIdleConnections()
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(20 * time.Second):
		n.t.Errorf("%s did not stop within 20s of SIGTERM; killing it\n%s", n.Name, n.logTail(20))
		n.cmd.Process.Kill()
		<-n.exited
	}
}

// logs returns the process's log.
func (n *node) logs() string {
	b, _ := os.ReadFile(n.logPath)
	return string(b)
}

// logTail returns the last lines of the process's log.
func (n *node) logTail(lines int) string {
	all := strings.Split(strings.TrimRight(n.logs(), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return fmt.Sprintf("--- last %d log lines of %s ---\n%s", len(all), n.Name, strings.Join(all, "\n"))
}

// panics returns the log lines that report a panic.
func (n *node) panics() []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(n.logs()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, "panic") {
			out = append(out, l)
		}
	}
	return out
}

// result is one HTTP exchange.
type result struct {
	Status  int
	Header  http.Header
	Raw     string
	Body    map[string]any
	Latency time.Duration
	Err     error
}

func (r result) String() string {
	if r.Err != nil {
		return "error: " + r.Err.Error()
	}
	raw := strings.TrimSpace(r.Raw)
	if len(raw) > 300 {
		raw = raw[:300] + "…"
	}
	return fmt.Sprintf("%d %s", r.Status, raw)
}

// apiClient is shared by the tests' JSON requests.
var apiClient = &http.Client{
	Timeout:   15 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
}

// call sends a JSON request (body may be nil) with an optional API key.
func call(c *http.Client, method, url, apiKey string, body any) result {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return result{Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	start := time.Now()
	res, err := c.Do(req)
	if err != nil {
		return result{Err: err, Latency: time.Since(start)}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	r := result{Status: res.StatusCode, Header: res.Header, Raw: string(raw), Latency: time.Since(start), Err: err}
	json.Unmarshal(raw, &r.Body)
	return r
}

// str returns a string field of a JSON object, or "".
func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// createUser creates a verified user with a password through the API.
func createUser(t testing.TB, base, apiKey, email string) string {
	t.Helper()
	r := call(apiClient, "POST", base+"/user_management/users", apiKey,
		map[string]any{"email": email, "password": userPassword, "email_verified": true, "first_name": "Fault"})
	if r.Status != 201 {
		t.Fatalf("create %s: %s", email, r)
	}
	return str(r.Body, "id")
}

// passwordGrant signs in through POST /user_management/authenticate.
func passwordGrant(c *http.Client, base string, a app, email, pw string) result {
	return call(c, "POST", base+"/user_management/authenticate", "", map[string]any{
		"grant_type": "password", "client_id": a.ClientID, "client_secret": a.APIKey, "email": email, "password": pw})
}

// refresh rotates a refresh token.
func refresh(c *http.Client, base string, a app, rt string) result {
	return call(c, "POST", base+"/user_management/authenticate", "", map[string]any{
		"grant_type": "refresh_token", "client_id": a.ClientID, "client_secret": a.APIKey, "refresh_token": rt})
}

// browser is a cookie-keeping HTTP client that does not follow redirects.
type browser struct {
	client *http.Client
}

func newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{client: &http.Client{Jar: jar, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is one response of the hosted pages.
type page struct {
	Status   int
	Location string
	Body     string
	Err      error
}

func (b *browser) get(u string) page {
	res, err := b.client.Get(u)
	if err != nil {
		return page{Err: err}
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{Status: res.StatusCode, Location: res.Header.Get("Location"), Body: string(body)}
}

func (b *browser) post(u string, form url.Values) page {
	res, err := b.client.PostForm(u, form)
	if err != nil {
		return page{Err: err}
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{Status: res.StatusCode, Location: res.Header.Get("Location"), Body: string(body)}
}

var (
	csrfRE         = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	requestRE      = regexp.MustCompile(`name="request" value="([^"]+)"`)
	actionRE       = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	verificationRE = regexp.MustCompile(`name="verification" value="([^"]+)"`)
)

// formFields returns the hidden fields and action of a hosted form page.
func formFields(body string) (action string, form url.Values, err error) {
	form = url.Values{}
	for name, re := range map[string]*regexp.Regexp{"csrf_token": csrfRE, "request": requestRE} {
		m := re.FindStringSubmatch(body)
		if m == nil {
			return "", nil, fmt.Errorf("no %s in the page", name)
		}
		form.Set(name, m[1])
	}
	if m := verificationRE.FindStringSubmatch(body); m != nil {
		form.Set("verification", m[1])
	}
	m := actionRE.FindStringSubmatch(body)
	if m == nil {
		return "", nil, errors.New("no form action in the page")
	}
	return strings.ReplaceAll(m[1], "&amp;", "&"), form, nil
}

// authorizePath is the app's authorization URL path for a.
func authorizePath(a app, state string) string {
	q := url.Values{"client_id": {a.ClientID}, "redirect_uri": {callback}, "response_type": {"code"}, "provider": {"authkit"}}
	if state != "" {
		q.Set("state", state)
	}
	return "/user_management/authorize?" + q.Encode()
}

// smtpSink is an SMTP server on 127.0.0.1 that keeps every message.
type smtpSink struct {
	Addr string
	mu   sync.Mutex
	msgs []sunkMessage
}

type sunkMessage struct {
	To   []string
	Text string // the text/plain part, decoded
}

func startSink(t testing.TB) *smtpSink {
	t.Helper()
	sink := &smtpSink{}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: sink}, nil
	}))
	s.Domain = "localhost"
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	sink.Addr = ln.Addr().String()
	return sink
}

// URL is the GATEHOUSE_SMTP_URL of the sink (plain SMTP: loopback only).
func (s *smtpSink) URL() string { return "smtp://" + s.Addr + "?tls=none" }

func (s *smtpSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

var codeLineRE = regexp.MustCompile(`(?m)^\s+(\d{6})\s*$`)

// waitCode waits for an email to address and returns the 6-digit code in
// the newest one.
func (s *smtpSink) waitCode(t testing.TB, to string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		for i := len(s.msgs) - 1; i >= 0; i-- {
			m := s.msgs[i]
			for _, rcpt := range m.To {
				if strings.EqualFold(rcpt, to) {
					if c := codeLineRE.FindStringSubmatch(m.Text); c != nil {
						s.mu.Unlock()
						return c[1]
					}
				}
			}
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no email with a code reached %s within %s (the sink has %d messages)", to, timeout, s.count())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type sinkSession struct {
	sink *smtpSink
	to   []string
}

func (s *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *sinkSession) Reset()        { s.to = nil }
func (s *sinkSession) Logout() error { return nil }

func (s *sinkSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	text, err := plainText(data)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "unreadable message: " + err.Error()}
	}
	s.sink.mu.Lock()
	s.sink.msgs = append(s.sink.msgs, sunkMessage{To: append([]string(nil), s.to...), Text: text})
	s.sink.mu.Unlock()
	return nil
}

// plainText returns the decoded text/plain part of a MIME message.
func plainText(data []byte) (string, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return "", err
	}
	return partText(msg.Header, msg.Body)
}

// header is a mail.Header or a textproto.MIMEHeader.
type header interface{ Get(string) string }

func partText(h header, body io.Reader) (string, error) {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return "", errors.New("no text/plain part")
			}
			if err != nil {
				return "", err
			}
			if s, err := partText(p.Header, p); err == nil {
				return s, nil
			}
		}
	}
	if mt != "text/plain" {
		return "", errors.New("not text/plain")
	}
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	return string(b), err
}
