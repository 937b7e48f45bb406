package gatehouse

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeAPI is an httptest server whose handler the test sets, and a client
// of it whose waits between retries are recorded instead of slept.
type fakeAPI struct {
	*httptest.Server
	client *Client
	mu     sync.Mutex
	waits  []time.Duration
}

func newFakeAPI(t *testing.T, h http.HandlerFunc, opts ...Option) *fakeAPI {
	t.Helper()
	f := &fakeAPI{Server: httptest.NewServer(h)}
	t.Cleanup(f.Close)
	c, err := NewClient(f.URL, "sk_test_key", "client_123", opts...)
	if err != nil {
		t.Fatal(err)
	}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		f.mu.Lock()
		f.waits = append(f.waits, d)
		f.mu.Unlock()
		return ctx.Err()
	}
	f.client = c
	return f
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-ID", "req_123")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

const userJSON = `{"object":"user","id":"user_1","email":"a@b.c","email_verified":true,"first_name":"Ada","last_name":null,"name":null,
"profile_picture_url":null,"last_sign_in_at":null,"locale":null,"external_id":"e1","metadata":{"k":"v"},
"created_at":"2024-01-01T00:00:00.123Z","updated_at":"2024-01-02T00:00:00.000Z"}`

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRetryHonoursRetryAfterAndKeepsIdempotencyKey(t *testing.T) {
	var n atomic.Int32
	var keys []string
	var mu sync.Mutex
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		for h, want := range map[string]string{"Content-Type": "application/json", "Accept": "application/json",
			"Authorization": "Bearer sk_test_key", "User-Agent": "gatehouse-go/" + Version} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("%s = %q, want %q", h, got, want)
			}
		}
		body, _ := io.ReadAll(r.Body)
		if string(body) != `{"email":"a@b.c"}` {
			t.Errorf("attempt %d body = %s", n.Load()+1, body)
		}
		switch n.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "2")
			writeJSON(w, 429, `{"message":"slow down","code":"too_many_requests"}`)
		case 2:
			writeJSON(w, 503, `{"message":"unavailable","code":"service_unavailable"}`)
		default:
			writeJSON(w, 201, userJSON)
		}
	})
	u, err := f.client.CreateUser(t.Context(), CreateUserParams{Email: "a@b.c"})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "user_1" || u.FirstName != "Ada" || u.LastName != "" || u.Metadata["k"] != "v" ||
		!u.CreatedAt.Equal(time.Date(2024, 1, 1, 0, 0, 0, 123e6, time.UTC)) || u.LastSignInAt != nil {
		t.Fatalf("user = %+v", u)
	}
	if n.Load() != 3 {
		t.Fatalf("%d attempts, want 3", n.Load())
	}
	if !uuidRE.MatchString(keys[0]) || keys[1] != keys[0] || keys[2] != keys[0] {
		t.Fatalf("Idempotency-Keys = %q, want one UUIDv4 on every attempt", keys)
	}
	if len(f.waits) != 2 || f.waits[0] != 2*time.Second {
		t.Fatalf("waits = %v, want [2s, backoff]", f.waits)
	}
	// The second retry's backoff: 1 s ± 50%.
	if f.waits[1] < 500*time.Millisecond || f.waits[1] >= 1500*time.Millisecond {
		t.Fatalf("second backoff = %v, want 1 s ± 50%%", f.waits[1])
	}

	// A second call gets a key of its own.
	first := keys[0]
	n.Store(2)
	f.client.CreateUser(t.Context(), CreateUserParams{Email: "a@b.c"})
	if keys[3] == first {
		t.Fatal("two calls shared an Idempotency-Key")
	}
}

func TestRetryLimitsAndBackoff(t *testing.T) {
	var n atomic.Int32
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.Method == "GET" && r.Header.Get("Idempotency-Key") != "" {
			t.Error("GET carries an Idempotency-Key")
		}
		w.Header().Set("Retry-After", r.URL.Query().Get("retry_after"))
		writeJSON(w, 503, `{"message":"down"}`)
	})
	_, err := f.client.GetUser(t.Context(), "user_1")
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 503 || ae.RequestID != "req_123" || !Retryable(err) {
		t.Fatalf("err = %v", err)
	}
	if n.Load() != 1+DefaultMaxRetries || len(f.waits) != DefaultMaxRetries {
		t.Fatalf("%d attempts, %d waits; want %d and %d", n.Load(), len(f.waits), 1+DefaultMaxRetries, DefaultMaxRetries)
	}
	for i, w := range f.waits {
		base := backoffBase << i
		if w < base/2 || w >= base*3/2 {
			t.Errorf("wait %d = %v, want %v ± 50%%", i+1, w, base)
		}
	}

	// Retry-After is capped at 30 s.
	f.waits = nil
	f.client.do(t.Context(), "GET", "/x", url.Values{"retry_after": {"3600"}}, nil, nil)
	if f.waits[0] != 30*time.Second {
		t.Fatalf("wait with Retry-After 3600 = %v, want 30s", f.waits[0])
	}

	// No retries when disabled.
	n.Store(0)
	c0, _ := NewClient(f.URL, "k", "c", WithMaxRetries(0))
	c0.GetUser(t.Context(), "user_1")
	if n.Load() != 1 {
		t.Fatalf("WithMaxRetries(0) made %d attempts", n.Load())
	}
}

func TestNoRetryOnClientErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		is     error
	}{
		{401, `{"message":"Unauthorized","code":"unauthorized"}`, ErrUnauthorized},
		{404, `{"message":"User not found.","code":"entity_not_found"}`, ErrNotFound},
		{409, `{"message":"taken","code":"user_already_exists"}`, ErrConflict},
		{422, `{"message":"bad","code":"invalid_request_parameters","errors":[{"field":"email","code":"invalid","message":"email is invalid."}]}`, ErrUnprocessable},
		{400, `{"error":"invalid_grant","error_description":"The code is invalid."}`, ErrInvalidGrant},
		{400, `{"code":"invalid_credentials","message":"The email or password is incorrect."}`, nil},
		{403, `{"code":"email_verification_required","message":"Verify","pending_authentication_token":"pat_1","email":"a@b.c","email_verification_id":"email_verification_1"}`, ErrEmailVerificationRequired},
	} {
		t.Run(fmt.Sprint(tc.status, tc.is), func(t *testing.T) {
			var n atomic.Int32
			f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				writeJSON(w, tc.status, tc.body)
			})
			_, err := f.client.CreateUser(t.Context(), CreateUserParams{Email: "x"})
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != tc.status || string(ae.RawBody) != tc.body || ae.RequestID != "req_123" {
				t.Fatalf("err = %#v", err)
			}
			if n.Load() != 1 || Retryable(err) {
				t.Fatalf("%d attempts (retryable %v) for a %d", n.Load(), Retryable(err), tc.status)
			}
			for _, s := range []error{ErrUnauthorized, ErrNotFound, ErrConflict, ErrUnprocessable, ErrRateLimited, ErrInvalidGrant, ErrEmailVerificationRequired} {
				if got := errors.Is(err, s); got != (s == tc.is) {
					t.Errorf("errors.Is(err, %v) = %v", s, got)
				}
			}
			if tc.status == 422 && (len(ae.Errors) != 1 || ae.Errors[0].Field != "email" || !strings.Contains(err.Error(), "email is invalid")) {
				t.Errorf("field errors = %+v (%v)", ae.Errors, err)
			}
			if tc.is == ErrInvalidGrant && (ae.ErrorCode != "invalid_grant" || ae.ErrorDescription == "") {
				t.Errorf("oauth error = %+v", ae)
			}
			if tc.is == ErrEmailVerificationRequired && (ae.PendingAuthenticationToken != "pat_1" || ae.Email != "a@b.c" || ae.EmailVerificationID != "email_verification_1") {
				t.Errorf("step-up error = %+v", ae)
			}
		})
	}
}

func TestNetworkErrorsAndTimeouts(t *testing.T) {
	// A closed server: connection refused, retried, then a *NetworkError.
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {})
	f.Close()
	_, err := f.client.GetUser(t.Context(), "user_1")
	var ne *NetworkError
	if !errors.As(err, &ne) || ne.Method != "GET" || !strings.HasSuffix(ne.URL, "/user_management/users/user_1") || !Retryable(err) {
		t.Fatalf("err = %v", err)
	}
	if len(f.waits) != DefaultMaxRetries {
		t.Fatalf("%d retries of a network error", len(f.waits))
	}

	// An attempt that outlives the per-attempt timeout is retried.
	var n atomic.Int32
	slow := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
			return
		}
		writeJSON(w, 200, userJSON)
	}, WithTimeout(100*time.Millisecond))
	if _, err := slow.client.GetUser(t.Context(), "user_1"); err != nil || n.Load() != 2 {
		t.Fatalf("after a timed-out attempt: %v, %d attempts", err, n.Load())
	}

	// Cancelling the context stops the retries.
	always := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 503, `{}`) })
	always.client.sleep = sleepCtx
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err = always.client.GetUser(ctx, "user_1")
	var ae *APIError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &ae) || time.Since(start) > 2*time.Second {
		t.Fatalf("after cancel: %v in %v", err, time.Since(start))
	}
}

func TestNewClientFromEnv(t *testing.T) {
	t.Setenv(EnvURL, "")
	t.Setenv(EnvAPIKey, "sk_test_1")
	t.Setenv(EnvClientID, "")
	_, err := NewClientFromEnv()
	if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_URL, WORKOS_CLIENT_ID") {
		t.Fatalf("err = %v, want both missing variables named", err)
	}
	t.Setenv(EnvURL, "http://127.0.0.1:8080/")
	t.Setenv(EnvClientID, "client_1")
	c, err := NewClientFromEnv()
	if err != nil || c.BaseURL() != "http://127.0.0.1:8080" || c.ClientID() != "client_1" {
		t.Fatalf("client = %+v, %v", c, err)
	}
	for _, bad := range []string{"", "127.0.0.1:8080", "ftp://x", "http://", "http://x/?q=1"} {
		if _, err := NewClient(bad, "k", "c"); err == nil {
			t.Errorf("NewClient(%q) succeeded", bad)
		}
	}
	if _, err := NewClient("http://x", "", ""); err == nil {
		t.Error("NewClient without key or client ID succeeded")
	}
}

func TestUserAgentOption(t *testing.T) {
	var ua string
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) { ua = r.UserAgent(); writeJSON(w, 200, userJSON) },
		WithUserAgent("myapp/1.2"))
	f.client.GetUser(t.Context(), "u")
	if ua != "myapp/1.2 gatehouse-go/"+Version {
		t.Fatalf("User-Agent = %q", ua)
	}
}

func TestAuthorizationURL(t *testing.T) {
	c, _ := NewClient("https://auth.example.com/", "sk", "client_1")
	age := 0
	raw, err := c.AuthorizationURL(AuthorizationURLParams{
		RedirectURI: "https://app.example.com/callback", State: "Fe26.2**x~2 {\"a\":1}", ScreenHint: ScreenSignUp,
		LoginHint: "a@b.c", DomainHint: "b.c", OrganizationID: "org_1", ConnectionID: "conn_1", Prompt: "login",
		MaxAge: &age, InvitationToken: "inv", CodeChallenge: "chal", ProviderScopes: []string{"email", "profile"},
		ProviderQueryParams: map[string]string{"hd": "b.c"},
	})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(raw)
	if u.Scheme+"://"+u.Host+u.Path != "https://auth.example.com/user_management/authorize" {
		t.Fatalf("URL = %s", raw)
	}
	want := url.Values{
		"client_id": {"client_1"}, "redirect_uri": {"https://app.example.com/callback"}, "response_type": {"code"},
		"provider": {"authkit"}, "state": {"Fe26.2**x~2 {\"a\":1}"}, "screen_hint": {"sign-up"}, "login_hint": {"a@b.c"},
		"domain_hint": {"b.c"}, "organization_id": {"org_1"}, "connection_id": {"conn_1"}, "prompt": {"login"},
		"max_age": {"0"}, "invitation_token": {"inv"}, "code_challenge": {"chal"}, "code_challenge_method": {"S256"},
		"provider_scopes": {"email,profile"}, "provider_query_params[hd]": {"b.c"},
	}
	if got := u.Query(); got.Encode() != want.Encode() {
		t.Fatalf("query:\n got %v\nwant %v", got, want)
	}
	// Only what was given is sent.
	raw, _ = c.AuthorizationURL(AuthorizationURLParams{RedirectURI: "http://localhost:3000/callback", Provider: "GoogleOAuth"})
	u, _ = url.Parse(raw)
	if len(u.Query()) != 4 || u.Query().Get("provider") != "GoogleOAuth" {
		t.Fatalf("minimal URL = %s", raw)
	}
	for _, p := range []AuthorizationURLParams{{}, {RedirectURI: "x", ScreenHint: "signup"}} {
		if _, err := c.AuthorizationURL(p); err == nil {
			t.Errorf("AuthorizationURL(%+v) succeeded", p)
		}
	}
	if got := c.LogoutURL("session_1", "https://app.example.com/bye?x=1"); got != "https://auth.example.com/user_management/sessions/logout?return_to=https%3A%2F%2Fapp.example.com%2Fbye%3Fx%3D1&session_id=session_1" {
		t.Errorf("LogoutURL = %s", got)
	}
	if got := c.LogoutURL("session_1", ""); got != "https://auth.example.com/user_management/sessions/logout?session_id=session_1" {
		t.Errorf("LogoutURL without return_to = %s", got)
	}
	if got := c.JWKSURL(); got != "https://auth.example.com/sso/jwks/client_1" {
		t.Errorf("JWKSURL = %s", got)
	}
}

func TestGeneratePKCE(t *testing.T) {
	v, c, err := GeneratePKCE()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(v))
	if len(v) != 43 || c != b64u.EncodeToString(sum[:]) || !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(c) {
		t.Fatalf("verifier %q challenge %q", v, c)
	}
	v2, _, _ := GeneratePKCE()
	if v2 == v {
		t.Fatal("two verifiers are equal")
	}
}

func TestGrantBodies(t *testing.T) {
	var bodies []map[string]any
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/user_management/authenticate" || r.Header.Get("Authorization") != "Bearer sk_test_key" {
			t.Errorf("%s %s auth %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		var b map[string]any
		json.NewDecoder(r.Body).Decode(&b)
		bodies = append(bodies, b)
		writeJSON(w, 200, `{"user":`+userJSON+`,"organization_id":"org_1","access_token":"a.b.c","refresh_token":"rt2","authentication_method":"Password","impersonator":{"email":"i@b.c","reason":null}}`)
	})
	ctx := t.Context()
	res, err := f.client.AuthenticateWithCode(ctx, AuthenticateWithCodeParams{Code: "c1", CodeVerifier: "v1", IPAddress: "1.2.3.4", UserAgent: "ua"})
	if err != nil || res.User.ID != "user_1" || res.OrganizationID != "org_1" || res.AccessToken != "a.b.c" || res.RefreshToken != "rt2" ||
		res.AuthenticationMethod != "Password" || res.Impersonator == nil || res.Impersonator.Email != "i@b.c" {
		t.Fatalf("res = %+v, %v", res, err)
	}
	f.client.AuthenticateWithRefreshToken(ctx, AuthenticateWithRefreshTokenParams{RefreshToken: "rt1", OrganizationID: "org_2"})
	f.client.AuthenticateWithPassword(ctx, AuthenticateWithPasswordParams{Email: "a@b.c", Password: "pw"})
	f.client.AuthenticateWithEmailVerification(ctx, AuthenticateWithEmailVerificationParams{Code: "123456", PendingAuthenticationToken: "pat"})
	want := []string{
		`{"client_id":"client_123","client_secret":"sk_test_key","code":"c1","code_verifier":"v1","grant_type":"authorization_code","ip_address":"1.2.3.4","user_agent":"ua"}`,
		`{"client_id":"client_123","client_secret":"sk_test_key","grant_type":"refresh_token","organization_id":"org_2","refresh_token":"rt1"}`,
		`{"client_id":"client_123","client_secret":"sk_test_key","email":"a@b.c","grant_type":"password","password":"pw"}`,
		`{"client_id":"client_123","client_secret":"sk_test_key","code":"123456","grant_type":"urn:workos:oauth:grant-type:email-verification:code","pending_authentication_token":"pat"}`,
	}
	for i, w := range want {
		got, _ := json.Marshal(bodies[i])
		if string(got) != w {
			t.Errorf("body %d:\n got %s\nwant %s", i, got, w)
		}
	}
}

func TestUpdateUserBody(t *testing.T) {
	var got string
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		if r.Method != "PUT" || r.URL.Path != "/user_management/users/user_1" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		writeJSON(w, 200, userJSON)
	})
	name, verified := "Grace", false
	_, err := f.client.UpdateUser(t.Context(), "user_1", UpdateUserParams{FirstName: &name, EmailVerified: &verified,
		Metadata: map[string]*string{"gone": nil, "rank": &name}, Clear: []UserField{FieldLastName, FieldExternalID}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"email_verified":false,"external_id":null,"first_name":"Grace","last_name":null,"metadata":{"gone":null,"rank":"Grace"}}`; got != want {
		t.Fatalf("body:\n got %s\nwant %s", got, want)
	}
	if _, err := f.client.UpdateUser(t.Context(), "user_1", UpdateUserParams{FirstName: &name, Clear: []UserField{FieldFirstName}}); err == nil {
		t.Fatal("set and cleared accepted")
	}
	if _, err := f.client.UpdateUser(t.Context(), "user_1", UpdateUserParams{Clear: []UserField{"email"}}); err == nil {
		t.Fatal("clearing email accepted")
	}
}

func TestIteratorFollowsAfter(t *testing.T) {
	const total = 23
	var requests []string
	f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		requests = append(requests, r.URL.RawQuery)
		q := r.URL.Query()
		start := 0
		if a := q.Get("after"); a != "" {
			fmt.Sscanf(a, "user_%d", &start)
		}
		var data []string
		end := min(start+10, total)
		for i := start + 1; i <= end; i++ {
			data = append(data, fmt.Sprintf(`{"id":"user_%d","email":"u%d@x.y","created_at":"2024-01-01T00:00:00.000Z","updated_at":"2024-01-01T00:00:00.000Z"}`, i, i))
		}
		after := "null"
		if end < total {
			after = fmt.Sprintf(`"user_%d"`, end)
		}
		writeJSON(w, 200, `{"object":"list","data":[`+strings.Join(data, ",")+`],"list_metadata":{"before":null,"after":`+after+`}}`)
	})
	it := f.client.ListUsers(t.Context(), ListUsersParams{ListParams: ListParams{Limit: 10, Order: OrderAsc}, Email: "x"})
	var ids []string
	for it.Next(t.Context()) {
		ids = append(ids, it.Current().ID)
	}
	if it.Err() != nil || len(ids) != total || ids[0] != "user_1" || ids[total-1] != "user_23" {
		t.Fatalf("ids = %v, err %v", ids, it.Err())
	}
	if want := []string{"email=x&limit=10&order=asc", "after=user_10&email=x&limit=10&order=asc", "after=user_20&email=x&limit=10&order=asc"}; strings.Join(requests, " ") != strings.Join(want, " ") {
		t.Fatalf("requests = %q", requests)
	}
	// All, stopping early.
	n := 0
	for u, err := range f.client.ListUsers(t.Context(), ListUsersParams{}).All(t.Context()) {
		if err != nil || u.ID == "" {
			t.Fatal(err)
		}
		if n++; n == 12 {
			break
		}
	}
	// A server that repeats its cursor does not loop forever.
	loop := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"object":"list","data":[{"id":"user_1"}],"list_metadata":{"before":null,"after":"user_1"}}`)
	})
	it = loop.client.ListUsers(t.Context(), ListUsersParams{})
	for it.Next(t.Context()) {
	}
	if it.Err() == nil {
		t.Fatal("a repeated cursor did not stop the iterator")
	}
	// Errors surface through All.
	fail := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, `{"message":"no","code":"entity_not_found"}`)
	})
	for _, err := range fail.client.ListSessions(t.Context(), "user_x", ListParams{}).All(t.Context()) {
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	}
}
