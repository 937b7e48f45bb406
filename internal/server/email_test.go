package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authflow"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/tokens"
)

// signIns returns the user.signed_in events of a user, newest first.
func signIns(t *testing.T, ts *testServer, userID string) []store.Event {
	t.Helper()
	return eventsOf(t, ts, authflow.EventSignedIn, userID)
}

// eventsOf returns a user's events of one type, newest first.
func eventsOf(t *testing.T, ts *testServer, typ, userID string) []store.Event {
	t.Helper()
	p, err := ts.Store.ListEvents(t.Context(), ts.EnvID, []string{typ}, store.ListParams{Limit: 100, Order: store.Desc})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Event
	for _, e := range p.Data {
		if e.TargetID == userID {
			out = append(out, e)
		}
	}
	return out
}

// sessionOf returns the session ID in a token response's access token.
func sessionOf(t *testing.T, ts *testServer, r tokenResult, now time.Time) string {
	t.Helper()
	access, _ := r.Body["access_token"].(string)
	claims, err := tokens.Verify(access, jwks(t, ts), now, "")
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	return claims.SessionID
}

// passwordGrant signs in through the API.
func (ts *testServer) passwordGrant(t *testing.T, email, pw string) tokenResult {
	return ts.authenticate(t, map[string]any{"grant_type": "password", "client_id": ts.Env.ClientID, "client_secret": ts.Key, "email": email, "password": pw})
}

func TestEmailVerificationStepUp(t *testing.T) {
	backends(t, func(t *testing.T, tsReal *testServer) {
		clk := newClock()
		ts := startWith(t, tsReal.Store, clk.Now)
		registerApp(t, ts)
		ts.do(t, "POST", "/user_management/users", `{"email":"step@example.com","password":"correct horse battery staple"}`).want(t, 201, "")
		r := ts.passwordGrant(t, "step@example.com", "correct horse battery staple")
		if r.Status != 403 || r.Body["code"] != "email_verification_required" || r.Body["pending_authentication_token"] == "" ||
			r.Body["email"] != "step@example.com" || !strings.HasPrefix(r.Body["email_verification_id"].(string), "email_verification_") {
			t.Fatalf("unverified password sign-in = %d %s", r.Status, r.Raw)
		}
		pending := r.Body["pending_authentication_token"].(string)
		code := ts.lastCode(t, "step@example.com")
		user, err := ts.Store.GetUserByEmail(t.Context(), ts.EnvID, "step@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(signIns(t, ts, user.ID)); n != 0 {
			t.Errorf("%d sign-ins logged for a password that still needs a verified address, want 0", n)
		}
		grant := func(code, token string) tokenResult {
			return ts.authenticate(t, map[string]any{"grant_type": "urn:workos:oauth:grant-type:email-verification:code",
				"client_id": ts.Env.ClientID, "client_secret": ts.Key, "code": code, "pending_authentication_token": token})
		}
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		if r := grant(wrong, pending); r.Status != 400 || r.Body["code"] != "invalid_one_time_code" {
			t.Fatalf("wrong code = %d %s", r.Status, r.Raw)
		}
		if r := grant(code, "not-a-token"); r.Status != 400 || r.Body["code"] != "invalid_pending_authentication_token" {
			t.Fatalf("bad pending token = %d %s", r.Status, r.Raw)
		}
		ok := grant(code, pending)
		if ok.Status != 200 || ok.Body["user"].(map[string]any)["email_verified"] != true || ok.Body["access_token"] == "" {
			t.Fatalf("verification grant = %d %s", ok.Status, ok.Raw)
		}
		if r := grant(code, pending); r.Status != 400 {
			t.Fatalf("pending token reused = %d %s", r.Status, r.Raw)
		}
		// Verified now: a password sign-in goes straight through.
		again := ts.passwordGrant(t, "step@example.com", "correct horse battery staple")
		if again.Status != 200 {
			t.Fatalf("verified sign-in = %d %s", again.Status, again.Raw)
		}
		// Each session logged once, with its method, when it started.
		logged := signIns(t, ts, user.ID)
		if len(logged) != 2 {
			t.Fatalf("%d sign-ins logged, want 2: %+v", len(logged), logged)
		}
		for i, r := range []tokenResult{again, ok} { // newest first
			if e := logged[i]; e.Data["method"] != "password" || e.Data["session_id"] != sessionOf(t, ts, r, clk.Now()) || e.ActorID != user.ID {
				t.Errorf("sign-in event %d = %+v, want session %s", i, e, sessionOf(t, ts, r, clk.Now()))
			}
		}
	})
}

func TestOneTimeCodeRules(t *testing.T) {
	backends(t, func(t *testing.T, tsReal *testServer) {
		clk := newClock()
		ts := startWith(t, tsReal.Store, clk.Now)
		registerApp(t, ts)
		create := func(email string) response {
			return ts.do(t, "POST", "/user_management/magic_auth", `{"email":"`+email+`"}`)
		}
		grant := func(email, code string) tokenResult {
			return ts.authenticate(t, map[string]any{"grant_type": "urn:workos:oauth:grant-type:magic-auth:code",
				"client_id": ts.Env.ClientID, "client_secret": ts.Key, "email": email, "code": code})
		}
		// Expiry: a code is good for 10 minutes.
		r := create("expiry@example.com")
		r.want(t, 201, "")
		if r.Body["object"] != "magic_auth" || len(r.Body["code"].(string)) != 6 {
			t.Fatalf("magic auth = %s", r.Raw)
		}
		clk.Advance(10*time.Minute + time.Second)
		if g := grant("expiry@example.com", r.Body["code"].(string)); g.Status != 400 || g.Body["code"] != "one_time_code_expired" {
			t.Fatalf("expired code = %d %s", g.Status, g.Raw)
		}
		// Single use: the first use signs up the new address; the second fails.
		r = create("once@example.com")
		code := r.Body["code"].(string)
		g := grant("once@example.com", code)
		if g.Status != 200 || g.Body["authentication_method"] != "MagicAuth" || g.Body["user"].(map[string]any)["email_verified"] != true {
			t.Fatalf("magic sign-in = %d %s", g.Status, g.Raw)
		}
		if g := grant("once@example.com", code); g.Status != 400 || g.Body["code"] != "one_time_code_previously_used" {
			t.Fatalf("reused code = %d %s", g.Status, g.Raw)
		}
		once := g.Body["user"].(map[string]any)["id"].(string)
		if up := eventsOf(t, ts, authflow.EventSignedUp, once); len(up) != 1 || up[0].Data["method"] != "magic_code" || up[0].ActorID != once {
			t.Errorf("sign-ups logged for the magic-code account: %+v, want one, method magic_code", up)
		}
		// Attempts: five wrong guesses kill the code, even for the right one.
		r = create("guess@example.com")
		code = r.Body["code"].(string)
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		var last tokenResult
		for range 5 {
			last = grant("guess@example.com", wrong)
		}
		if last.Body["code"] != "one_time_code_too_many_attempts" {
			t.Fatalf("fifth wrong guess = %s", last.Raw)
		}
		if g := grant("guess@example.com", code); g.Body["code"] != "one_time_code_too_many_attempts" {
			t.Fatalf("right code after too many attempts = %d %s", g.Status, g.Raw)
		}
		// Rate limit: 3 emails per address per minute, then 429 with Retry-After.
		create("limit@example.com").want(t, 201, "")
		create("limit@example.com").want(t, 201, "")
		create("limit@example.com").want(t, 201, "")
		lim := create("limit@example.com")
		lim.want(t, 429, "rate_limit_exceeded")
		if lim.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		clk.Advance(61 * time.Second)
		create("limit@example.com").want(t, 201, "")
		// The stored code is a MAC, not the code.
		got, _ := ts.Store.GetChallenge(t.Context(), ts.EnvID, r.Body["id"].(string))
		if strings.Contains(string(got.Hash), code) || len(got.Hash) != 32 {
			t.Fatal("the code is not stored as a 32-byte MAC")
		}
	})
}

func TestPasswordResetEndsSessions(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		registerApp(t, ts)
		r := session(t, ts, "reset@example.com")
		rt := r.Body["refresh_token"].(string)
		b := newBrowser(t, ts)
		// Hosted: the same answer for known and unknown addresses.
		forgot := func(email string) page {
			p := b.get("/hosted/" + ts.Env.ClientID + "/forgot-password")
			return b.post(field(t, actionRE, p.Body), url.Values{"csrf_token": {field(t, csrfRE, p.Body)}, "email": {email}})
		}
		known, unknown := forgot("reset@example.com"), forgot("nobody@example.com")
		if known.Status != 200 || !strings.Contains(known.Body, "If an account exists") ||
			strings.ReplaceAll(known.Body, "reset@example.com", "X") != strings.ReplaceAll(unknown.Body, "nobody@example.com", "X") {
			t.Fatalf("forgot-password answers differ:\n%s\n----\n%s", known.Body, unknown.Body)
		}
		// The emailed link sets a new password once.
		var link string
		emails, _ := ts.Store.ListEmails(t.Context(), "", store.ListParams{Limit: 5})
		for _, e := range emails.Data {
			if e.To == "reset@example.com" && strings.Contains(e.Text, "reset-password?token=") {
				i := strings.Index(e.Text, "http")
				link = strings.Fields(e.Text[i:])[0]
				break
			}
		}
		if link == "" {
			t.Fatal("no reset email")
		}
		p := b.get(link)
		if p.Status != 200 || !strings.Contains(p.Body, "Choose a new password") {
			t.Fatalf("reset page = %d\n%s", p.Status, p.Body)
		}
		token := regexpValue(t, p.Body, "token")
		post := func(pw string) page {
			return b.post(field(t, actionRE, p.Body), url.Values{"csrf_token": {field(t, csrfRE, p.Body)}, "token": {token}, "password": {pw}})
		}
		if weak := post("password123"); weak.Status != 422 || !strings.Contains(weak.Body, "too common") {
			t.Fatalf("weak password = %d", weak.Status)
		}
		done := post("a brand new passphrase")
		if done.Status != http.StatusSeeOther || done.Location != "http://localhost:3000/login" {
			t.Fatalf("reset = %d %q", done.Status, done.Location)
		}
		if again := post("yet another passphrase"); again.Status != 400 {
			t.Fatalf("reset link reused = %d", again.Status)
		}
		// Every session ended; the new password works, the old one does not.
		wantGrantError(t, ts.refresh(t, rt), "invalid_grant")
		if r := ts.passwordGrant(t, "reset@example.com", "correct horse battery staple"); r.Status != 400 {
			t.Fatalf("old password = %d %s", r.Status, r.Raw)
		}
		if r := ts.passwordGrant(t, "reset@example.com", "a brand new passphrase"); r.Status != 200 {
			t.Fatalf("new password = %d %s", r.Status, r.Raw)
		}
		// API: create returns a token; confirm sets the password.
		cr := ts.do(t, "POST", "/user_management/password_reset", `{"email":"reset@example.com"}`)
		cr.want(t, 201, "")
		ts.do(t, "POST", "/user_management/password_reset/confirm", `{"token":"`+cr.Body["password_reset_token"].(string)+`","new_password":"third time lucky passphrase"}`).want(t, 200, "")
		got := ts.do(t, "GET", "/user_management/password_reset/"+cr.Body["id"].(string), "")
		got.want(t, 200, "")
		if _, leaked := got.Body["password_reset_token"]; leaked {
			t.Fatal("GET password_reset returns the token")
		}
		ts.do(t, "POST", "/user_management/password_reset", `{"email":"nobody@example.com"}`).want(t, 404, "")
		user := r.Body["user"].(map[string]any)["id"].(string)
		if resets := eventsOf(t, ts, authflow.EventPasswordReset, user); len(resets) != 2 {
			t.Errorf("%d resets logged, want 2", len(resets))
		}
	})
}

// A reset link sent to an address the account has since given up resets
// nothing, ends no session and logs nothing: its holder may no longer be
// the account's owner.
func TestPasswordResetForAnOldAddress(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		registerApp(t, ts)
		r := session(t, ts, "old@example.com")
		user := r.Body["user"].(map[string]any)["id"].(string)
		cr := ts.do(t, "POST", "/user_management/password_reset", `{"email":"old@example.com"}`)
		cr.want(t, 201, "")
		ts.do(t, "PUT", "/user_management/users/"+user, `{"email":"moved@example.com"}`).want(t, 200, "")
		before, err := ts.Store.GetUser(t.Context(), ts.EnvID, user)
		if err != nil {
			t.Fatal(err)
		}
		confirm := `{"token":"` + cr.Body["password_reset_token"].(string) + `","new_password":"a takeover passphrase"}`
		ts.do(t, "POST", "/user_management/password_reset/confirm", confirm).want(t, 400, "password_reset_token_invalid")
		after, _ := ts.Store.GetUser(t.Context(), ts.EnvID, user)
		if after.PasswordHash != before.PasswordHash || after.EmailVerified != before.EmailVerified {
			t.Error("a link for the old address changed the account")
		}
		if r := ts.refresh(t, r.Body["refresh_token"].(string)); r.Status != 200 {
			t.Fatalf("a refused reset ended the session: %d %s", r.Status, r.Raw)
		}
		if resets := eventsOf(t, ts, authflow.EventPasswordReset, user); len(resets) != 0 {
			t.Errorf("a refused reset was logged: %+v", resets)
		}
		// The link is used up all the same.
		if ch, err := ts.Store.GetChallenge(t.Context(), ts.EnvID, cr.Body["id"].(string)); err != nil || ch.UsedAt == nil {
			t.Errorf("the refused link is not used up: %+v, %v", ch, err)
		}
	})
}

func regexpValue(t *testing.T, body, name string) string {
	t.Helper()
	i := strings.Index(body, `name="`+name+`" value="`)
	if i < 0 {
		t.Fatalf("no %s field", name)
	}
	rest := body[i+len(`name="`+name+`" value="`):]
	return rest[:strings.IndexByte(rest, '"')]
}

// A sign-up from a network that just used up its email allowance is told
// to wait (429), not given a server error, and its account is kept.
func TestSignUpAtMailLimit(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		registerApp(t, ts)
		b := newBrowser(t, ts)
		for i := range authflow.MailPerIP {
			p := b.get(b.get(authorizeURL(ts, nil)).Location)
			magic := strings.Replace(field(t, actionRE, p.Body), "/sign-in", "/magic", 1)
			b.post(magic, url.Values{"csrf_token": {field(t, csrfRE, p.Body)}, "request": {field(t, requestRE, p.Body)},
				"email": {fmt.Sprintf("spray%d@example.com", i)}})
		}
		p := b.get(strings.Replace(b.get(authorizeURL(ts, nil)).Location, "/sign-in", "/sign-up", 1))
		p = b.post(field(t, actionRE, p.Body), url.Values{"csrf_token": {field(t, csrfRE, p.Body)},
			"request": {field(t, requestRE, p.Body)}, "email": {"late@example.com"}, "password": {"correct horse battery staple"}})
		if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, "Your account is saved") || p.Header.Get("Retry-After") == "" {
			t.Fatalf("sign-up at the mail limit = %d\n%s", p.Status, p.Body)
		}
		if _, err := ts.Store.GetUserByEmail(t.Context(), ts.EnvID, "late@example.com"); err != nil {
			t.Fatalf("the account was not kept: %v", err)
		}
	})
}

// The hosted verification page: a wrong code shows the page again with an
// error and signs nobody in; the right code verifies the address and signs
// the user in with it (browser session cookie, code for the app), in one
// commit; the code's page cannot be used again.
func TestHostedVerificationSignsIn(t *testing.T) {
	backends(t, func(t *testing.T, ts *testServer) {
		ctx := t.Context()
		registerApp(t, ts)
		b := newBrowser(t, ts)
		const email = "verify-page@example.com"
		p := b.get(authorizeURL(ts, url.Values{"state": {"st-1"}}))
		p = b.get(strings.Replace(p.Location, "/sign-in", "/sign-up", 1))
		p = b.post(field(t, actionRE, p.Body), url.Values{"csrf_token": {field(t, csrfRE, p.Body)},
			"request": {field(t, requestRE, p.Body)}, "email": {email}, "password": {"correct horse battery staple"}, "first_name": {"V"}})
		if p.Status != http.StatusSeeOther || !strings.Contains(p.Location, "/verify-email") {
			t.Fatalf("sign-up = %d %q", p.Status, p.Location)
		}
		p = b.get(p.Location)
		action := field(t, actionRE, p.Body)
		form := url.Values{"csrf_token": {field(t, csrfRE, p.Body)}, "request": {field(t, requestRE, p.Body)},
			"verification": {field(t, verificationRE, p.Body)}}
		code := ts.lastCode(t, email)
		user, err := ts.Store.GetUserByEmail(ctx, ts.EnvID, email)
		if err != nil {
			t.Fatal(err)
		}
		if up := eventsOf(t, ts, authflow.EventSignedUp, user.ID); len(up) != 1 || up[0].Data["method"] != "password" || up[0].ActorID != user.ID {
			t.Errorf("sign-ups logged: %+v, want one, method password", up)
		}
		sessions := func() int {
			page, err := ts.Store.ListUserSessions(ctx, ts.EnvID, user.ID, store.ListParams{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			return len(page.Data)
		}

		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		form.Set("code", wrong)
		bad := b.post(action, form)
		if bad.Status != http.StatusUnprocessableEntity || !strings.Contains(bad.Body, "Check your email") || bad.Location != "" {
			t.Fatalf("wrong code = %d %q\n%s", bad.Status, bad.Location, bad.Body)
		}
		if u, _ := ts.Store.GetUser(ctx, ts.EnvID, user.ID); u.EmailVerified || u.LastSignInAt != nil || sessions() != 0 || len(signIns(t, ts, user.ID)) != 0 {
			t.Fatalf("after a wrong code: verified %v, last sign-in %v, %d sessions, %d sign-ins logged", u.EmailVerified, u.LastSignInAt, sessions(), len(signIns(t, ts, user.ID)))
		}

		form.Set("code", code)
		ok := b.post(action, form)
		to, _ := url.Parse(ok.Location)
		if ok.Status != http.StatusSeeOther || !strings.HasPrefix(ok.Location, callback) || to.Query().Get("state") != "st-1" || to.Query().Get("code") == "" {
			t.Fatalf("right code = %d %q\n%s", ok.Status, ok.Location, ok.Body)
		}
		if !strings.Contains(strings.Join(ok.Header.Values("Set-Cookie"), "\n"), "HttpOnly") {
			t.Errorf("right code set no session cookie: %q", ok.Header.Values("Set-Cookie"))
		}
		if u, _ := ts.Store.GetUser(ctx, ts.EnvID, user.ID); !u.EmailVerified || u.LastSignInAt == nil || sessions() != 1 {
			t.Fatalf("after the right code: verified %v, last sign-in %v, %d sessions", u.EmailVerified, u.LastSignInAt, sessions())
		}
		r := ts.exchange(t, to.Query().Get("code"), nil)
		if r.Status != 200 || r.Body["user"].(map[string]any)["email_verified"] != true {
			t.Fatalf("exchange = %d %s", r.Status, r.Raw)
		}

		// Posted again: the request is completed, so the browser starts over
		// and nothing more is written.
		again := b.post(action, form)
		if again.Status == http.StatusSeeOther && strings.HasPrefix(again.Location, callback) {
			t.Fatalf("the verification page signed in twice: %q", again.Location)
		}
		if sessions() != 1 {
			t.Errorf("%d sessions after posting the code again, want 1", sessions())
		}
		if logged := signIns(t, ts, user.ID); len(logged) != 1 || logged[0].Data["method"] != "password" {
			t.Errorf("sign-ins logged: %+v, want the one session's", logged)
		}
	})
}
