package gatehouse

import (
	"context"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// MiddlewareOptions configure SessionManager.Middleware.
type MiddlewareOptions struct {
	// SignInPath is where a browser without a valid session is redirected
	// (default "/login"); the app's handler there redirects on to
	// Client.AuthorizationURL.
	SignInPath string
	// ErrorHandler answers a request whose session could not be checked or
	// refreshed because of an error (Gatehouse or the JWKS unreachable, or
	// a misconfigured key). The cookie is kept. The default answers 503
	// with Retry-After for transient errors (see Retryable) and 500
	// otherwise.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

type sessionKey struct{}

// SessionFromContext returns the session Middleware put in a request's
// context.
func SessionFromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(*Session)
	return s, ok
}

// ContextWithSession returns ctx carrying s, as Middleware does; handlers'
// tests can use it.
func ContextWithSession(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// Middleware returns middleware that lets only signed-in users through:
//
//   - A valid session goes on to the handler, in the request's context
//     (SessionFromContext).
//   - A session whose access token expired (or no longer verifies) is
//     refreshed transparently: the new cookie is set on the response and
//     the request goes on, with no redirect. Concurrent requests with the
//     same cookie share one refresh.
//   - Without a valid session, or when the refresh is refused, the cookie is
//     cleared and the browser is redirected (302) to SignInPath; a request
//     whose Accept header prefers application/json gets 401
//     {"error":"unauthorized"} instead.
//   - An error checking or refreshing the session goes to ErrorHandler and
//     keeps the cookie, so an outage does not sign everyone out.
func (m *SessionManager) Middleware(opts MiddlewareOptions) func(http.Handler) http.Handler {
	if opts.SignInPath == "" {
		opts.SignInPath = "/login"
	}
	if opts.ErrorHandler == nil {
		opts.ErrorHandler = defaultErrorHandler
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			sealed := m.SessionCookie(r)
			s, err := m.Authenticate(ctx, sealed)
			if err != nil {
				opts.ErrorHandler(w, r, err)
				return
			}
			switch s.Reason {
			case "":
				next.ServeHTTP(w, r.WithContext(ContextWithSession(ctx, s)))
				return
			case ReasonNoSessionCookie:
				signIn(w, r, opts.SignInPath)
				return
			case ReasonInvalidJWT:
				s, err = m.Refresh(ctx, sealed, "")
				if err != nil {
					opts.ErrorHandler(w, r, err)
					return
				}
				if s.Authenticated {
					m.SetCookie(w, r, s.Sealed)
					next.ServeHTTP(w, r.WithContext(ContextWithSession(ctx, s)))
					return
				}
			}
			m.ClearCookie(w, r)
			signIn(w, r, opts.SignInPath)
		})
	}
}

// signIn sends a signed-out request to sign in: a redirect for browsers,
// 401 JSON for API clients.
func signIn(w http.ResponseWriter, r *http.Request, path string) {
	w.Header().Add("Vary", "Accept")
	w.Header().Set("Cache-Control", "no-store")
	if prefersJSON(r.Header.Get("Accept")) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"unauthorized"}` + "\n"))
		return
	}
	http.Redirect(w, r, path, http.StatusFound)
}

func defaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "internal_error"
	if Retryable(err) {
		status, msg = http.StatusServiceUnavailable, "unavailable"
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Cache-Control", "no-store")
	if prefersJSON(r.Header.Get("Accept")) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"error":"` + msg + `"}` + "\n"))
		return
	}
	http.Error(w, "Signing in is not possible right now. Try again shortly.", status)
}

// prefersJSON reports whether an Accept header ranks application/json
// above text/html: by q-value, then by how specifically each is named
// (so "application/json, */*" prefers JSON, while a browser's
// "text/html,…,*/*;q=0.8" and a bare "*/*" do not).
func prefersJSON(accept string) bool {
	if accept == "" {
		return false
	}
	jq, js := acceptQ(accept, "application", "json")
	hq, hs := acceptQ(accept, "text", "html")
	return jq > 0 && (jq > hq || (jq == hq && js > hs))
}

// acceptQ returns the q-value the header gives typ/sub and the specificity
// of the range that matched it (2 exact, 1 typ/*, 0 */*, -1 none).
func acceptQ(accept, typ, sub string) (q float64, spec int) {
	spec = -1
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		t, s, _ := strings.Cut(mt, "/")
		var sp int
		switch {
		case t == typ && s == sub:
			sp = 2
		case t == typ && s == "*":
			sp = 1
		case t == "*" && s == "*":
			sp = 0
		default:
			continue
		}
		if sp < spec {
			continue
		}
		v := 1.0
		if qs, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(qs, 64); err == nil && f >= 0 && f <= 1 {
				v = f
			}
		}
		q, spec = v, sp
	}
	return q, spec
}
