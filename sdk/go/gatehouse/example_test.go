package gatehouse_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/sdk/go/gatehouse"
)

func ExampleNewClient() {
	client, err := gatehouse.NewClient("https://auth.example.com", "sk_test_123", "client_123",
		gatehouse.WithTimeout(10*time.Second), gatehouse.WithMaxRetries(2), gatehouse.WithUserAgent("myapp/1.0"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(client.JWKSURL())
	// Output: https://auth.example.com/sso/jwks/client_123
}

func ExampleNewClientFromEnv() {
	// GATEHOUSE_URL, WORKOS_API_KEY and WORKOS_CLIENT_ID, as `gatehouse dev`
	// writes them to its env file.
	client, err := gatehouse.NewClientFromEnv()
	if err != nil {
		log.Fatal(err) // names each missing variable
	}
	_ = client
}

func ExampleClient_AuthorizationURL() {
	client, _ := gatehouse.NewClient("https://auth.example.com", "sk_test_123", "client_123")
	u, err := client.AuthorizationURL(gatehouse.AuthorizationURLParams{
		RedirectURI: "https://app.example.com/callback",
		State:       "nonce-123",
		ScreenHint:  gatehouse.ScreenSignUp,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u)
	// Output: https://auth.example.com/user_management/authorize?client_id=client_123&provider=authkit&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback&response_type=code&screen_hint=sign-up&state=nonce-123
}

func ExampleGeneratePKCE() {
	client, _ := gatehouse.NewClient("https://auth.example.com", "", "client_123") // a public client: no API key
	verifier, challenge, err := gatehouse.GeneratePKCE()
	if err != nil {
		log.Fatal(err)
	}
	// Keep the verifier (e.g. in a short-lived cookie) for the callback.
	u, _ := client.AuthorizationURL(gatehouse.AuthorizationURLParams{RedirectURI: "http://localhost:3000/callback", CodeChallenge: challenge})
	q, _ := url.Parse(u)
	// In the callback:
	//   client.AuthenticateWithCode(ctx, gatehouse.AuthenticateWithCodeParams{Code: code, CodeVerifier: verifier})
	fmt.Println(len(verifier), q.Query().Get("code_challenge_method"))
	// Output: 43 S256
}

// A sign-in flow: /login sends the browser to Gatehouse, /callback turns
// the code into a sealed session cookie, /logout ends the session, and the
// middleware protects everything under /app/.
func ExampleSessionManager_Middleware() {
	client, err := gatehouse.NewClientFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	sessions, err := gatehouse.NewSessionManager(client, "a-cookie-password-of-at-least-32-characters", gatehouse.SessionOptions{})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		state := randomState()
		http.SetCookie(w, &http.Cookie{Name: "state", Value: state, Path: "/callback", MaxAge: 600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		u, err := client.AuthorizationURL(gatehouse.AuthorizationURLParams{RedirectURI: "http://localhost:3000/callback", State: state})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		http.Redirect(w, r, u, http.StatusFound)
	})
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("state")
		if err != nil || c.Value != r.URL.Query().Get("state") {
			http.Error(w, "bad state", http.StatusBadRequest)
			return
		}
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		res, err := client.AuthenticateWithCode(r.Context(), gatehouse.AuthenticateWithCodeParams{
			Code: r.URL.Query().Get("code"), IPAddress: ip, UserAgent: r.UserAgent()})
		if errors.Is(err, gatehouse.ErrInvalidGrant) {
			http.Redirect(w, r, "/login", http.StatusFound) // a used or expired code: start again
			return
		}
		if err != nil {
			http.Error(w, "sign-in failed", http.StatusBadGateway)
			return
		}
		sealed, err := sessions.Seal(res)
		if err != nil {
			http.Error(w, "sign-in failed", 500)
			return
		}
		sessions.SetCookie(w, r, sealed)
		http.Redirect(w, r, "/app/", http.StatusFound)
	})
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		u, err := sessions.LogoutURL(r.Context(), sessions.SessionCookie(r), "http://localhost:3000/")
		sessions.ClearCookie(w, r)
		if err != nil {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		http.Redirect(w, r, u, http.StatusFound)
	})
	protected := sessions.Middleware(gatehouse.MiddlewareOptions{SignInPath: "/login"})
	mux.Handle("/app/", protected(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := gatehouse.SessionFromContext(r.Context())
		fmt.Fprintf(w, "Hello, %s", s.User.Email)
	})))
	log.Fatal(http.ListenAndServe("localhost:3000", mux))
}

func randomState() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func ExampleSessionFromContext() {
	handler := func(w http.ResponseWriter, r *http.Request) {
		s, ok := gatehouse.SessionFromContext(r.Context())
		if !ok {
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "%s in session %s", s.User.Email, s.SessionID)
	}
	// In a handler's test, put a session in the context as the middleware does.
	r := httptest.NewRequest("GET", "/app/", nil)
	r = r.WithContext(gatehouse.ContextWithSession(r.Context(), &gatehouse.Session{Authenticated: true,
		SessionID: "session_123", User: gatehouse.User{Email: "ada@example.com"}}))
	w := httptest.NewRecorder()
	handler(w, r)
	fmt.Println(w.Body.String())
	// Output: ada@example.com in session session_123
}

func ExampleSessionManager_Authenticate() {
	client, _ := gatehouse.NewClientFromEnv()
	sessions, _ := gatehouse.NewSessionManager(client, "a-cookie-password-of-at-least-32-characters", gatehouse.SessionOptions{})
	http.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) {
		s, err := sessions.Authenticate(r.Context(), sessions.SessionCookie(r))
		if err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable) // the JWKS could not be fetched
			return
		}
		if s.Expired {
			if s, err = sessions.Refresh(r.Context(), s.Sealed, ""); err == nil && s.Authenticated {
				sessions.SetCookie(w, r, s.Sealed)
			}
		}
		if s == nil || !s.Authenticated {
			http.Error(w, "sign in", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"user_id":%q}`, s.User.ID)
	})
}

func ExampleSealSession() {
	password := "a-cookie-password-of-at-least-32-characters"
	sealed, err := gatehouse.SealSession(&gatehouse.SessionData{
		User:        gatehouse.User{ID: "user_123", Email: "ada@example.com"},
		AccessToken: "eyJ…", RefreshToken: "rt_…",
	}, password)
	if err != nil {
		log.Fatal(err)
	}
	// The WorkOS Node SDK's unsealData reads the same cookie.
	d, err := gatehouse.UnsealSession(sealed, password)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sealed[:7], d.User.Email)
	// Output: Fe26.2* ada@example.com
}

func ExampleClient_ListUsers() {
	client, _ := gatehouse.NewClientFromEnv()
	ctx := context.Background()
	it := client.ListUsers(ctx, gatehouse.ListUsersParams{ListParams: gatehouse.ListParams{Limit: 100}})
	for it.Next(ctx) {
		fmt.Println(it.Current().Email)
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	// Or with range:
	for u, err := range client.ListUsers(ctx, gatehouse.ListUsersParams{}).All(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(u.ID)
	}
}

func ExampleClient_UpdateUser() {
	client, _ := gatehouse.NewClientFromEnv()
	first, plan := "Ada", "pro"
	u, err := client.UpdateUser(context.Background(), "user_123", gatehouse.UpdateUserParams{
		FirstName: &first,                                          // set
		Clear:     []gatehouse.UserField{gatehouse.FieldLastName},  // set to null
		Metadata:  map[string]*string{"plan": &plan, "trial": nil}, // set one key, delete another
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.FirstName)
}

func ExampleAPIError() {
	// A stand-in server that answers like Gatehouse for an unknown user.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-ID", "req_123")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"User not found: 'user_404'.","code":"entity_not_found"}`)
	}))
	defer srv.Close()
	client, _ := gatehouse.NewClient(srv.URL, "sk_test_123", "client_123")

	_, err := client.GetUser(context.Background(), "user_404")
	fmt.Println(errors.Is(err, gatehouse.ErrNotFound))
	var apiErr *gatehouse.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Code, apiErr.RequestID)
	}
	// Output:
	// true
	// 404 entity_not_found req_123
}
