package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// load is what every virtual user shares: the target, the user pool, the
// HTTP transport and the current phase's window.
type load struct {
	t         *target
	transport *http.Transport
	rr        atomic.Uint64 // round-robin over the nodes
	users     []poolUser
	password  string
	runID     string
	seq       atomic.Int64
	ipSeq     atomic.Uint32
	codes     chan string // pre-minted authorization codes (exchange mix)
	win       atomic.Pointer[window]
	verifyOK  bool // the bench receives the server's email (managed or in-process)
	sharedIP  bool // sign-ups come from 127.0.0.1 like everything else (as behind a proxy)
}

type poolUser struct{ id, email string }

const requestTimeout = 60 * time.Second

func newTransport(conns int, local net.IP) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	return &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// base returns the next node's base URL (requests are spread round-robin,
// like a load balancer without stickiness).
func (l *load) base() string {
	if len(l.t.urls) == 1 {
		return l.t.urls[0]
	}
	return l.t.urls[l.rr.Add(1)%uint64(len(l.t.urls))]
}

// abs resolves a Location (absolute, or relative to the server root)
// against the next node.
func (l *load) abs(loc string) string {
	if strings.HasPrefix(loc, "/") {
		return l.base() + loc
	}
	return loc
}

// vu is one virtual user: an SDK-style backend client (API key) and a
// browser with its own cookie jar, following its own refresh chain.
type vu struct {
	id      int
	l       *load
	api     *http.Client // no cookies
	raw     *rawClient   // what api requests to http:// URLs go through
	browser *http.Client // cookie jar holding a Gatehouse browser session
	rt      string       // the current refresh token of this VU's chain
	rng     *rand.Rand
	rec     *recorder
}

func newVU(id int, l *load) *vu {
	jar, _ := cookiejar.New(nil)
	return &vu{
		id: id, l: l,
		api:     &http.Client{Transport: l.transport, Timeout: requestTimeout, CheckRedirect: noRedirects},
		raw:     newRawClient(nil),
		browser: &http.Client{Transport: l.transport, Timeout: requestTimeout, CheckRedirect: noRedirects, Jar: jar},
		rng:     rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano()))),
		rec:     newRecorder(),
	}
}

// opError is a failed operation: kind is what the report groups it under.
type opError struct{ kind string }

func (e *opError) Error() string { return e.kind }

func failf(format string, args ...any) error { return &opError{kind: fmt.Sprintf(format, args...)} }

// kindOf classifies an error for the report.
func kindOf(err error) string {
	var oe *opError
	if errors.As(err, &oe) {
		return oe.kind
	}
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "net: connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "net: connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "net: EOF"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "net: address not available"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "net: timeout"
	}
	return "net: " + err.Error()
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request and reads the whole response. API requests to
// http:// URLs go through the VU's rawClient, the rest through c.
func (v *vu) do(ctx context.Context, c *http.Client, method, u, ctype string, body []byte, auth bool) (*response, error) {
	w := v.l.win.Load()
	w.requests.Add(1)
	if w.start.Load() != 0 && !w.stopped.Load() {
		w.measuredRq.Add(1)
	}
	if host, target, ok := splitHTTP(u); ok && c == v.api {
		bearer := ""
		if auth {
			bearer = v.l.t.apiKey
		}
		return v.raw.do(ctx, method, host, target, ctype, body, bearer)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+v.l.t.apiKey)
	}
	req.Header.Set("User-Agent", "gatehouse-bench")
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}, nil
}

// statusError describes an unexpected response: the step, the status and
// the API's error code when the body is JSON.
func statusError(step string, r *response) error {
	var e struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	kind := fmt.Sprintf("%s: HTTP %d", step, r.status)
	if json.Unmarshal(r.body, &e) == nil {
		if e.Error != "" {
			kind += " " + e.Error
		} else if e.Code != "" {
			kind += " " + e.Code
		}
	}
	return &opError{kind: kind}
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	User         struct {
		ID string `json:"id"`
	} `json:"user"`
}

// authenticate posts a grant as an SDK does (JSON, with the client secret).
func (v *vu) authenticate(ctx context.Context, step string, body map[string]any) (*tokenResponse, error) {
	body["client_id"] = v.l.t.clientID
	body["client_secret"] = v.l.t.apiKey
	raw, _ := json.Marshal(body)
	r, err := v.do(ctx, v.api, "POST", v.l.base()+"/user_management/authenticate", "application/json", raw, false)
	if err != nil {
		return nil, err
	}
	if r.status != 200 {
		return nil, statusError(step, r)
	}
	var tr tokenResponse
	if err := json.Unmarshal(r.body, &tr); err != nil || tr.RefreshToken == "" || tr.AccessToken == "" {
		return nil, failf("%s: 200 without tokens", step)
	}
	return &tr, nil
}

// exchange trades a code for tokens and records it as opExchange.
func (v *vu) exchange(ctx context.Context, code string) (*tokenResponse, error) {
	return v.exchangeAt(ctx, code, time.Now())
}

// exchangeAt is exchange timed from start (the scheduled start at a fixed rate).
func (v *vu) exchangeAt(ctx context.Context, code string, start time.Time) (*tokenResponse, error) {
	tr, err := v.authenticate(ctx, "exchange", map[string]any{"grant_type": "authorization_code", "code": code})
	v.record(ctx, opExchange, start, err)
	return tr, err
}

// record adds an operation's outcome unless the phase was being stopped
// (a cancelled request is not a server error).
func (v *vu) record(ctx context.Context, o op, start time.Time, err error) {
	if err != nil && ctx.Err() != nil {
		return
	}
	kind := ""
	if err != nil {
		kind = kindOf(err)
	}
	v.rec.add(v.l.win.Load(), o, start, time.Since(start), kind)
}

func (v *vu) authorizeURL(extra url.Values) string {
	q := url.Values{"client_id": {v.l.t.clientID}, "redirect_uri": {v.l.t.redirectURI}, "response_type": {"code"}, "provider": {"authkit"}}
	for k, val := range extra {
		q[k] = val
	}
	return v.l.base() + "/user_management/authorize?" + q.Encode()
}

// codeFrom returns the code of a redirect back to the app.
func (v *vu) codeFrom(step string, r *response) (string, error) {
	loc := r.header.Get("Location")
	if (r.status != http.StatusFound && r.status != http.StatusSeeOther) || !strings.HasPrefix(loc, v.l.t.redirectURI+"?") {
		if r.status == http.StatusFound && strings.Contains(loc, "/hosted/") {
			return "", failf("%s: no browser session (sent to the sign-in page)", step)
		}
		return "", statusError(step, r)
	}
	u, err := url.Parse(loc)
	if err != nil || u.Query().Get("code") == "" {
		if u != nil && u.Query().Get("error") != "" {
			return "", failf("%s: redirect with error=%s", step, u.Query().Get("error"))
		}
		return "", failf("%s: redirect without a code", step)
	}
	return u.Query().Get("code"), nil
}

var (
	csrfRE         = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	requestRE      = regexp.MustCompile(`name="request" value="([^"]+)"`)
	verificationRE = regexp.MustCompile(`name="verification" value="([^"]+)"`)
	actionRE       = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

func formField(re *regexp.Regexp, body []byte) string {
	m := re.FindSubmatch(body)
	if m == nil {
		return ""
	}
	return htmlUnescape(string(m[1]))
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

// hostedForm loads a hosted page and returns its form's action and the
// fields every hosted form carries.
func (v *vu) hostedForm(ctx context.Context, c *http.Client, step, loc string) (string, url.Values, []byte, error) {
	r, err := v.do(ctx, c, "GET", v.l.abs(loc), "", nil, false)
	if err != nil {
		return "", nil, nil, err
	}
	if r.status != 200 {
		return "", nil, nil, statusError(step, r)
	}
	action, csrf, req := formField(actionRE, r.body), formField(csrfRE, r.body), formField(requestRE, r.body)
	if action == "" || csrf == "" || req == "" {
		return "", nil, nil, failf("%s: page without a form", step)
	}
	return action, url.Values{"csrf_token": {csrf}, "request": {req}}, r.body, nil
}

// ---- operations ----

// refresh rotates this VU's refresh token once. After a failure the chain
// is restarted (through the browser session, which needs no password).
func (v *vu) refresh(ctx context.Context, start time.Time) {
	tr, err := v.authenticate(ctx, "refresh", map[string]any{"grant_type": "refresh_token", "refresh_token": v.rt})
	v.record(ctx, opRefresh, start, err)
	if err == nil {
		v.rt = tr.RefreshToken
		return
	}
	if ctx.Err() == nil {
		v.restartChain(ctx)
	}
}

func (v *vu) restartChain(ctx context.Context) {
	code, err := v.authorizeWithSession(ctx)
	if err != nil {
		return
	}
	if tr, err := v.authenticate(ctx, "exchange", map[string]any{"grant_type": "authorization_code", "code": code}); err == nil {
		v.rt = tr.RefreshToken
	}
}

// authorizeWithSession is a returning browser's authorize: its Gatehouse
// session cookie makes the server redirect straight back with a code.
func (v *vu) authorizeWithSession(ctx context.Context) (string, error) {
	r, err := v.do(ctx, v.browser, "GET", v.authorizeURL(url.Values{"state": {"s"}}), "", nil, false)
	if err != nil {
		return "", err
	}
	return v.codeFrom("authorize", r)
}

// flow: a returning browser signs in to the app: authorize → code → exchange.
func (v *vu) flow(ctx context.Context, start time.Time) {
	code, err := v.authorizeWithSession(ctx)
	if err == nil {
		_, err = v.exchange(ctx, code)
	}
	v.record(ctx, opFlow, start, err)
}

// exchangeOnly exchanges a pre-minted code; false when none are left.
func (v *vu) exchangeOnly(ctx context.Context, start time.Time) bool {
	select {
	case code := <-v.l.codes:
		v.exchangeAt(ctx, code, start)
		return true
	default:
		return false
	}
}

// hostedSignIn: a new browser signs in on the hosted page with a password.
// It returns the browser (with its new session cookie) and the tokens.
func (v *vu) hostedSignIn(ctx context.Context, start time.Time, record bool) (*http.Client, *tokenResponse, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: v.l.transport, Timeout: requestTimeout, CheckRedirect: noRedirects, Jar: jar}
	u := v.l.users[v.rng.IntN(len(v.l.users))]
	tr, err := func() (*tokenResponse, error) {
		r, err := v.do(ctx, c, "GET", v.authorizeURL(url.Values{"state": {"s"}}), "", nil, false)
		if err != nil {
			return nil, err
		}
		loc := r.header.Get("Location")
		if r.status != http.StatusFound || !strings.Contains(loc, "/hosted/") {
			return nil, statusError("authorize", r)
		}
		action, form, _, err := v.hostedForm(ctx, c, "sign-in page", loc)
		if err != nil {
			return nil, err
		}
		form.Set("email", u.email)
		form.Set("password", v.l.password)
		r, err = v.do(ctx, c, "POST", v.l.abs(action), "application/x-www-form-urlencoded", []byte(form.Encode()), false)
		if err != nil {
			return nil, err
		}
		code, err := v.codeFrom("sign-in POST", r)
		if err != nil {
			return nil, err
		}
		if record {
			return v.exchange(ctx, code)
		}
		return v.authenticate(ctx, "exchange", map[string]any{"grant_type": "authorization_code", "code": code})
	}()
	if record {
		v.record(ctx, opHosted, start, err)
	}
	return c, tr, err
}

// signin: the password grant, as a backend with its own login form does.
func (v *vu) signin(ctx context.Context, start time.Time) {
	u := v.l.users[v.rng.IntN(len(v.l.users))]
	_, err := v.authenticate(ctx, "signin", map[string]any{"grant_type": "password", "email": u.email, "password": v.l.password})
	v.record(ctx, opSignin, start, err)
}

// nextIP returns a fresh loopback source address (127.a.b.c, a ≥ 1), so
// each sign-up comes from its own client IP as real sign-ups do and the
// per-IP email limit (10 a minute) applies as it would in production.
func (l *load) nextIP() net.IP {
	n := l.ipSeq.Add(1) % (254 * 254 * 254)
	return net.IPv4(127, byte(1+n/(254*254)), byte(1+n/254%254), byte(1+n%254))
}

// signup: a new browser, from a new IP, creates an account on the hosted
// sign-up page; then, once the email arrives, verifies it (signup-verify)
// and exchanges the code. The new chain replaces the VU's.
func (v *vu) signup(ctx context.Context, start time.Time) {
	tp := v.l.transport
	if !v.l.sharedIP {
		tp = newTransport(2, v.l.nextIP())
		defer tp.CloseIdleConnections()
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: tp, Timeout: requestTimeout, CheckRedirect: noRedirects, Jar: jar}
	email := fmt.Sprintf("su-%s-%d@bench.example.com", v.l.runID, v.l.seq.Add(1))
	var codes chan string
	if v.l.verifyOK {
		codes = v.l.t.sink.expect(email)
		defer v.l.t.sink.forget(email)
	}
	var verifyLoc string
	err := func() error {
		r, err := v.do(ctx, c, "GET", v.authorizeURL(url.Values{"screen_hint": {"sign-up"}, "state": {"s"}}), "", nil, false)
		if err != nil {
			return err
		}
		loc := r.header.Get("Location")
		if r.status != http.StatusFound || !strings.Contains(loc, "/sign-up") {
			return statusError("authorize", r)
		}
		action, form, _, err := v.hostedForm(ctx, c, "sign-up page", loc)
		if err != nil {
			return err
		}
		form.Set("email", email)
		form.Set("password", v.l.password)
		form.Set("first_name", "Bench")
		form.Set("last_name", fmt.Sprintf("VU %d", v.id))
		r, err = v.do(ctx, c, "POST", v.l.abs(action), "application/x-www-form-urlencoded", []byte(form.Encode()), false)
		if err != nil {
			return err
		}
		verifyLoc = r.header.Get("Location")
		if r.status != http.StatusSeeOther || !strings.Contains(verifyLoc, "/verify-email") {
			if r.status == http.StatusSeeOther && strings.HasPrefix(verifyLoc, v.l.t.redirectURI) {
				verifyLoc = "" // the environment does not ask for verification
				return nil
			}
			return statusError("sign-up POST", r)
		}
		return nil
	}()
	v.record(ctx, opSignup, start, err)
	if err != nil || verifyLoc == "" || !v.l.verifyOK {
		return
	}
	sent := time.Now()
	var code string
	select {
	case code = <-codes:
		v.rec.add(v.l.win.Load(), opEmail, sent, time.Since(sent), "")
	case <-time.After(30 * time.Second):
		v.rec.add(v.l.win.Load(), opEmail, sent, time.Since(sent), "no email within 30s")
		return
	case <-ctx.Done():
		return
	}
	vstart := time.Now()
	tr, err := func() (*tokenResponse, error) {
		action, form, body, err := v.hostedForm(ctx, c, "verify page", verifyLoc)
		if err != nil {
			return nil, err
		}
		form.Set("verification", formField(verificationRE, body))
		form.Set("code", code)
		r, err := v.do(ctx, c, "POST", v.l.abs(action), "application/x-www-form-urlencoded", []byte(form.Encode()), false)
		if err != nil {
			return nil, err
		}
		ac, err := v.codeFrom("verify POST", r)
		if err != nil {
			return nil, err
		}
		return v.exchange(ctx, ac)
	}()
	v.record(ctx, opVerify, vstart, err)
	_ = tr
}

func (v *vu) jwks(ctx context.Context, start time.Time) {
	r, err := v.do(ctx, v.api, "GET", v.l.base()+"/sso/jwks/"+v.l.t.clientID, "", nil, false)
	if err == nil && (r.status != 200 || !bytes.Contains(r.body, []byte(`"keys"`))) {
		err = statusError("jwks", r)
	}
	v.record(ctx, opJWKS, start, err)
}

func (v *vu) userGet(ctx context.Context, start time.Time) {
	u := v.l.users[v.rng.IntN(len(v.l.users))]
	r, err := v.do(ctx, v.api, "GET", v.l.base()+"/user_management/users/"+u.id, "", nil, true)
	if err == nil && r.status != 200 {
		err = statusError("user get", r)
	}
	v.record(ctx, opUserGet, start, err)
}

func (v *vu) userList(ctx context.Context, start time.Time) {
	r, err := v.do(ctx, v.api, "GET", v.l.base()+"/user_management/users?limit=10", "", nil, true)
	if err == nil && r.status != 200 {
		err = statusError("user list", r)
	}
	v.record(ctx, opUserList, start, err)
}

// run performs one operation of kind o; false means the VU has nothing
// left to do (no pre-minted codes).
func (v *vu) run(ctx context.Context, o op, start time.Time) bool {
	switch o {
	case opRefresh:
		v.refresh(ctx, start)
	case opExchange:
		return v.exchangeOnly(ctx, start)
	case opFlow:
		v.flow(ctx, start)
	case opHosted:
		v.hostedSignIn(ctx, start, true)
	case opSignin:
		v.signin(ctx, start)
	case opSignup:
		v.signup(ctx, start)
	case opJWKS:
		v.jwks(ctx, start)
	case opUserGet:
		v.userGet(ctx, start)
	case opUserList:
		v.userList(ctx, start)
	}
	return true
}
